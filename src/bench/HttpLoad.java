package bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/** P6: task creations per second over HTTP, wrk against the server on H2 and on MariaDB. */
final class HttpLoad {
    static final String DATABASE = "ibexbench";
    private final Bench b;

    HttpLoad(Bench b) {
        this.b = b;
    }

    /** The original's body (one host, action pause, so nothing runs), and a reply check like its wrk script's. */
    static String lua(String action) {
        return """
                wrk.method = "POST"
                wrk.body = '{"title":"wrk","account":"root","batch":0,"tolerance":0,"timeout":30,"pause":"","script":"#!/bin/sh\\\\necho hi","args":"","action":"%s","creator":"bench","hosts":["bench-host-1"]}'
                wrk.headers["Content-Type"] = "application/json"
                wrk.headers["Authorization"] = "%s"
                local threads = {}
                function setup(thread) table.insert(threads, thread) end
                function init(args) bad = 0 end
                function response(status, headers, body)
                  if status ~= 200 or not string.find(body, '"err":""', 1, true) then bad = bad + 1 end
                end
                function done(summary, latency, requests)
                  local total = 0
                  for _, t in ipairs(threads) do total = total + t:get("bad") end
                  io.write(string.format("BAD %%d\\n", total))
                  io.write(string.format("LAT %%d %%d %%d %%d\\n", latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
                end
                """.formatted(action, Ibex.AUTH);
    }

    record Run(double rate, double p50, double p90, double p99, long bad, long socketErrors, double serverCpu, double dbCpu,
               double machine, double rss) {
    }

    void creations() throws IOException, InterruptedException {
        if (!onPath("wrk")) {
            b.section("P6 — task creations/s via HTTP", "wrk", List.of(new Bench.Target("creations/s", "≥ 5,000/s embedded, ≥ 2,500/s MariaDB",
                    "not measured: wrk is not installed (bench.sh installs it with apt-get when it can)", false)), null, List.of());
            return;
        }
        var lua = Files.writeString(b.scratch.resolve("post.lua"), lua("pause"));
        int runs = b.quick ? 1 : 3;
        int seconds = b.quick ? 3 : 10;
        var t = new Table("store", "connections", "creations/s (median; per run)", "latency p50 / p90 / p99 (ms)", "bad replies",
                "server CPU %", "mysqld CPU %", "machine busy % (of 200)", "server RSS after");
        var targets = new ArrayList<Bench.Target>();
        String h2File = "";
        long tasks = 0;
        for (var store : b.mariadb ? List.of("h2", "mariadb") : List.of("h2")) {
            var dir = b.scratch.resolve("p6-" + store);
            String db;
            if (store.equals("h2")) {
                db = Ibex.h2(dir);
            } else {
                freshMariadb();
                db = Ibex.mysql(DATABASE);
            }
            double at16 = Double.NaN;
            try (var server = Ibex.server(b.bin, dir, db, 1000, Map.of())) {
                long dbPid = store.equals("h2") ? -1 : Math.max(Procs.pidOf("mariadbd"), Procs.pidOf("mysqld"));
                wrk(server, lua, 16, b.quick ? 3 : 10, dbPid);      // warm-up (the JIT), not counted
                for (int c : new int[] {1, 16}) {
                    var rs = new ArrayList<Run>();
                    for (int r = 0; r < runs; r++) {
                        rs.add(wrk(server, lua, c, seconds, dbPid));
                    }
                    var rates = rs.stream().map(Run::rate).toList();
                    t.row(store.equals("h2") ? "H2 (embedded)" : "MariaDB 127.0.0.1", Integer.toString(c),
                            Stats.f(Stats.median(rates)) + " (" + Stats.runs(rates) + ")",
                            Stats.f(Stats.median(rs.stream().map(Run::p50).toList())) + " / "
                                    + Stats.f(Stats.median(rs.stream().map(Run::p90).toList())) + " / "
                                    + Stats.f(Stats.median(rs.stream().map(Run::p99).toList())),
                            Long.toString(rs.stream().mapToLong(x -> x.bad() + x.socketErrors()).sum()),
                            Stats.f(Stats.median(rs.stream().map(Run::serverCpu).toList())),
                            store.equals("h2") ? "—" : Stats.f(Stats.median(rs.stream().map(Run::dbCpu).toList())),
                            Stats.f(Stats.median(rs.stream().map(Run::machine).toList())),
                            Stats.f(rs.getLast().rss()) + " MB");
                    if (c == 16) {
                        at16 = Stats.median(rates);
                    }
                }
                var m = server.metrics();
                if (m.getOrDefault("ibex_db_errors_total", 0.0) > 0) {
                    b.note(store + ": the server counted " + Math.round(m.get("ibex_db_errors_total")) + " database errors (/metrics)");
                }
                if (store.equals("h2")) {
                    tasks = taskCount(server);
                }
            }
            if (store.equals("h2")) {
                h2File = h2FileNote(dir, tasks);
            }
            double target = store.equals("h2") ? 5000 : 2500;
            targets.add(new Bench.Target("creations/s at 16 connections, " + (store.equals("h2") ? "H2" : "MariaDB"),
                    String.format("≥ %,.0f/s", target), Stats.f(at16) + "/s", at16 >= target));
        }
        if (!b.mariadb) {
            b.note("MariaDB at 127.0.0.1:3306 (root, empty password) did not answer: only H2 was measured.");
        }
        b.section("P6 — task creations/s via HTTP", "wrk " + wrkVersion() + ", `wrk -t1 -c1` and `wrk -t2 -c16`, " + seconds + " s per run, "
                        + runs + " run(s) each after a " + (b.quick ? 3 : 10) + " s warm-up at 16 connections; the original's request body (one host, action pause) and reply"
                        + " check (any non-200 or a reply without \"err\":\"\" is bad)",
                targets, t, List.of("Durable commits: MariaDB with innodb_flush_log_at_trx_commit=1 (its default here);"
                        + " H2 with WRITE_DELAY=0, every commit written to the file before the reply (survives a killed"
                        + " process; the server forces the file to disk every 100 ms, not at each commit). Each create is four INSERTs and an audit row; creations that arrive together"
                        + " share one transaction (store.GroupCommit), so no reply comes before its commit."
                        + " wrk, the server and MariaDB share the 2 cores. The original: 474/s at 1 connection, 1,272/s at 16 (MariaDB).",
                        h2File));
    }

    private static long taskCount(Ibex server) {
        var m = Pattern.compile("\"total\":(\\d+)").matcher(server.send("GET", "/ibex/v1/tasks?limit=1", null).body());
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /**
     * The embedded store's file after the H2 runs, and after `ibex compact` on the stopped server:
     * how much of the file the server's upkeep kept reusable under this load (README, "The
     * embedded store's file").
     */
    private String h2FileNote(Path dir, long tasks) throws IOException, InterruptedException {
        var p = new ProcessBuilder(b.bin.toString(), "compact", "-c", dir.resolve("server.conf").toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        var m = Pattern.compile("([0-9,]+) bytes before, ([0-9,]+) after").matcher(out);
        if (p.waitFor() != 0 || !m.find()) {
            return "H2's file: `ibex compact` failed after the runs: " + out.strip();
        }
        double before = Long.parseLong(m.group(1).replace(",", ""));
        double after = Long.parseLong(m.group(2).replace(",", ""));
        return String.format("H2's file after its runs (warm-up included): %,.0f MB for %,d tasks (%,.1f KB per task); %,.0f MB"
                + " (%,.2f KB per task) after `ibex compact` on the stopped server. The server moves live pages out of chunks"
                + " older than 5 s and reuses their space after its next sync (every 100 ms), so at these rates the file holds"
                + " a few hundred MB of recent writes beyond its data.",
                before / 1048576, tasks, tasks == 0 ? 0.0 : before / 1024 / tasks, after / 1048576, tasks == 0 ? 0.0 : after / 1024 / tasks);
    }

    private Run wrk(Ibex server, Path lua, int connections, int seconds, long dbPid) throws IOException, InterruptedException {
        var argv = List.of("wrk", "-t" + (connections == 1 ? 1 : 2), "-c" + connections, "-d" + seconds + "s", "--latency",
                "-s", lua.toString(), server.base() + "/ibex/v1/tasks");
        var w = new Procs.Window(server.pid(), dbPid);
        var p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        w.stop();
        var rate = find(out, "Requests/sec:\\s+([0-9.]+)");
        var lat = Pattern.compile("LAT (\\d+) (\\d+) (\\d+) (\\d+)").matcher(out);
        if (rate == null || !lat.find()) {
            throw new IllegalStateException("wrk output not understood:\n" + out);
        }
        var bad = find(out, "BAD (\\d+)");
        long sock = 0;
        var se = Pattern.compile("Socket errors: connect (\\d+), read (\\d+), write (\\d+), timeout (\\d+)").matcher(out);
        if (se.find()) {
            for (int g = 1; g <= 4; g++) {
                sock += Long.parseLong(se.group(g));
            }
        }
        return new Run(Double.parseDouble(rate), Long.parseLong(lat.group(1)) / 1000.0, Long.parseLong(lat.group(2)) / 1000.0,
                Long.parseLong(lat.group(3)) / 1000.0, bad == null ? 0 : Long.parseLong(bad), sock,
                w.cpu[0], dbPid > 0 ? w.cpu[1] : Double.NaN, w.machineBusy, Procs.status(server.pid(), "VmRSS") / 1024.0);
    }

    private static String find(String text, String regex) {
        var m = Pattern.compile(regex).matcher(text);
        return m.find() ? m.group(1) : null;
    }

    private static boolean onPath(String cmd) {
        for (var d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Path.of(d, cmd))) {
                return true;
            }
        }
        return false;
    }

    private static String wrkVersion() {
        try {
            var p = new ProcessBuilder("wrk", "-v").redirectErrorStream(true).start();
            var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor();
            var m = Pattern.compile("wrk ([0-9][0-9.]*)").matcher(out);
            return m.find() ? m.group(1) : "";
        } catch (IOException | InterruptedException e) {
            return "";
        }
    }

    /** Drops and re-creates the benchmark database with the schema of sql/ibex.sql (minus its database lines). */
    void freshMariadb() throws IOException, InterruptedException {
        mysql(null, "DROP DATABASE IF EXISTS " + DATABASE + "; CREATE DATABASE " + DATABASE
                + " DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci;");
        var schema = new StringBuilder();
        for (var line : Files.readAllLines(b.sql)) {
            if (!line.startsWith("CREATE DATABASE") && !line.startsWith("USE ")) {
                schema.append(line).append('\n');
            }
        }
        mysql(DATABASE, schema.toString());
    }

    private static void mysql(String database, String sql) throws IOException, InterruptedException {
        var argv = new ArrayList<>(List.of("mysql", "-h", "127.0.0.1", "-u", "root"));
        if (database != null) {
            argv.add(database);
        }
        var p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        try (var in = p.getOutputStream()) {
            in.write(sql.getBytes(StandardCharsets.UTF_8));
        }
        var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("mysql failed: " + out);
        }
    }
}
