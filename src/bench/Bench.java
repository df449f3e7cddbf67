package bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The benchmark driver behind {@code make bench}: runs figures P1–P6 of issue 6 against the built
 * {@code bin/ibex} and writes BENCHMARKS.md, one table per figure with its command, machine, date,
 * target and measured value. Started by src/bench/bench.sh, which prepares wrk and MariaDB.
 *
 * <pre>usage: bench.Bench --bin bin/ibex --java JAVA --cp CLASSPATH --out BENCHMARKS.md [--quick] [--only P1,P3] [--mariadb yes|no]</pre>
 */
public final class Bench {
    /** One line of a figure's target table; met null = not judged (a QUICK run, say). */
    record Target(String what, String target, String measured, Boolean met) {
    }

    final boolean quick;
    final Path bin;
    final Path java;
    final String classPath;
    final Path scratch;
    final boolean mariadb;
    final Path sql;
    /** P1 sizes instead of the defaults (--sizes 10000,18000), for experiments. */
    final String sizes;
    private final Path out;
    private final Set<String> only;
    private final StringBuilder body = new StringBuilder();
    private final Table summary = new Table("figure", "what", "target", "measured", "met");
    private final List<String> pending = new ArrayList<>();
    private final String machine;
    private String current = "";

    private Bench(Map<String, String> a) throws IOException {
        quick = a.containsKey("quick");
        bin = Path.of(a.getOrDefault("bin", "bin/ibex")).toAbsolutePath();
        java = Path.of(a.getOrDefault("java", System.getProperty("java.home") + "/bin/java"));
        classPath = a.getOrDefault("cp", System.getProperty("java.class.path"));
        out = Path.of(a.getOrDefault("out", "BENCHMARKS.md"));
        only = a.containsKey("only") ? Set.of(a.get("only").split(",")) : Set.of("P1", "P2", "P3", "P4", "P5", "P6");
        mariadb = !"no".equals(a.getOrDefault("mariadb", "yes"));
        sql = Path.of(a.getOrDefault("sql", "sql/ibex.sql"));
        sizes = a.get("sizes");
        scratch = Files.createTempDirectory("ibex-bench-");
        machine = machine();
    }

    public static void main(String[] args) throws IOException {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            if (args[i].startsWith("--")) {
                boolean flag = i + 1 >= args.length || args[i + 1].startsWith("--");
                a.put(args[i].substring(2), flag ? "" : args[++i]);
            }
        }
        var b = new Bench(a);
        b.run();
    }

    private void run() throws IOException {
        long start = System.nanoTime();
        var others = new Others();
        String load = Files.readString(Path.of("/proc/loadavg")).strip();
        var fleet = new Fleet(this);
        var agentd = new Agentd(this);
        var http = new HttpLoad(this);
        figure("P1", fleet::agentsHeld);
        figure("P2", agentd::createToStart);
        figure("P3", fleet::oneTaskManyHosts);
        figure("P4", agentd::idle);
        figure("P5", agentd::startRate);
        figure("P6", http::creations);
        var doc = new StringBuilder();
        doc.append("# Benchmarks\n\n");
        doc.append("Written by `make bench").append(quick ? " QUICK=1" : "").append("` (src/bench/bench.sh → src/bench/Bench.java); ")
                .append("every number below comes from that one run. Issue 6 has the targets; "
                        + "`../shared/reference/original-measured.md` has the original's figures and methods.\n\n");
        doc.append("- **Command:** `make bench").append(quick ? " QUICK=1" : "").append("` (one figure: `sh src/bench/bench.sh")
                .append(quick ? " --quick" : "").append(" --only P1`)\n");
        doc.append("- **Machine:** ").append(machine).append('\n');
        doc.append("- **Date:** ").append(ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'")))
                .append(", run took ").append(Math.round((System.nanoTime() - start) / 1e9)).append(" s")
                .append(quick ? " (QUICK: fewer sizes, shorter windows, one run each; targets marked \"—\" are not judged)" : "").append('\n');
        doc.append("- **Load before the run:** ").append(load).append(" (/proc/loadavg). ").append(others.report()).append("\n\n");
        doc.append("## Summary\n\n").append(summary.markdown()).append('\n');
        doc.append(body);
        Files.writeString(out, doc);
        System.out.println("bench: wrote " + out.toAbsolutePath() + " in " + Math.round((System.nanoTime() - start) / 1e9) + " s");
    }

    @FunctionalInterface
    interface Figure {
        void run() throws Exception;
    }

    private void figure(String name, Figure f) {
        if (!only.contains(name)) {
            return;
        }
        current = name;
        pending.clear();
        long t0 = System.nanoTime();
        System.out.println("bench: " + name + " ...");
        try {
            f.run();
        } catch (Exception | Error e) {
            e.printStackTrace();
            summary.row(name, "the figure's run", "—", "failed: " + e, "no");
            body.append("## ").append(name).append("\n\nThe run failed: `").append(e).append("`\n\n");
            pending.forEach(n -> body.append("- ").append(n).append('\n'));
            body.append('\n');
        }
        System.out.println("bench: " + name + " took " + Math.round((System.nanoTime() - t0) / 1e9) + " s");
    }

    /** A remark that belongs to the figure being run (shown under its table). */
    void note(String text) {
        System.out.println("bench: " + current + ": " + text);
        pending.add(text);
    }

    /** Writes one figure: title, method, targets (also into the summary), the measured table, notes. */
    void section(String title, String how, List<Target> targets, Table table, List<String> notes) {
        body.append("## ").append(title).append("\n\n");
        body.append("- **Command:** `sh src/bench/bench.sh").append(quick ? " --quick" : "").append(" --only ").append(current)
                .append("` (part of `make bench").append(quick ? " QUICK=1" : "").append("`)\n");
        body.append("- **Machine:** ").append(machine).append("; ")
                .append(ZonedDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm 'UTC'"))).append('\n');
        body.append("- **How:** ").append(how).append("\n\n");
        var tt = new Table("what", "target", "measured", "met");
        for (var t : targets) {
            String met = t.met() == null ? "—" : t.met() ? "yes" : "**no**";
            tt.row(t.what(), t.target(), t.measured(), met);
            summary.row(current, t.what(), t.target(), t.measured(), met);
        }
        body.append(tt.markdown()).append('\n');
        if (table != null && !table.isEmpty()) {
            body.append(table.markdown()).append('\n');
        }
        for (var n : notes) {
            body.append("- ").append(n).append('\n');
        }
        for (var n : pending) {
            body.append("- ").append(n).append('\n');
        }
        body.append('\n');
        pending.clear();
    }

    private static String machine() throws IOException {
        String cpu = "";
        for (var line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
            if (line.startsWith("model name")) {
                cpu = line.substring(line.indexOf(':') + 1).strip();
                break;
            }
        }
        long memKb = 0;
        for (var line : Files.readAllLines(Path.of("/proc/meminfo"))) {
            if (line.startsWith("MemTotal:")) {
                memKb = Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return Runtime.getRuntime().availableProcessors() + " cores (" + cpu + "), " + String.format("%.1f", memKb / 1024.0 / 1024.0)
                + " GiB RAM, Linux " + System.getProperty("os.version") + ", fd limit " + fdLimit()
                + ", JDK " + System.getProperty("java.version");
    }

    private static String fdLimit() {
        try {
            for (var line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    return line.split("\\s+")[3];
                }
            }
        } catch (IOException e) {
            // unknown
        }
        return "?";
    }
}
