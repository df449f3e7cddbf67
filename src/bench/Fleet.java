package bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** P1 (agents held) and P3 (one task for many hosts): the server on H2 against AgentSim processes. */
final class Fleet {
    /** At most this many simulated agents per process: one process may hold 20,000 open files here. */
    static final int PER_PROCESS = 9000;

    private final Bench b;

    Fleet(Bench b) {
        this.b = b;
    }

    /** The simulator processes for n agents, READY. */
    List<Procs.Child> sims(Ibex server, int n, String tag) throws IOException {
        int procs = (n + PER_PROCESS - 1) / PER_PROCESS;
        var list = new ArrayList<Procs.Child>();
        for (int p = 0; p < procs; p++) {
            int count = n / procs + (p < n % procs ? 1 : 0);
            var argv = new ArrayList<>(List.of(b.java.toString(), "-XX:+UseSerialGC", "-Xss256k", "-Xmx768m", "-cp", b.classPath,
                    "bench.AgentSim", "--server", "127.0.0.1:" + server.rpcPort, "--prefix", tag + "-p" + p + "-", "--source", "127." + (10 + p),
                    "--count", Integer.toString(count), "--interval", "1000", "--connect-rate", "4000"));
            list.add(new Procs.Child(argv, b.scratch.resolve(tag + "-sim" + p + ".err")));
        }
        for (int p = 0; p < list.size(); p++) {
            var ready = kv(list.get(p).await("READY", 60 + n / 500));
            if (!ready.get("errors").equals("0")) {
                b.note("while " + n + " agents connected: simulator " + p + " had " + ready.get("errors") + " connection(s) fail and"
                        + " retried them (last: " + ready.get("lastError").replace('_', ' ') + "); all were held after " + ready.get("ms")
                        + " ms; windows start after the warm-up");
            }
        }
        return list;
    }

    static List<String> hosts(String tag, int n) {
        int procs = (n + PER_PROCESS - 1) / PER_PROCESS;
        var out = new ArrayList<String>(n);
        for (int p = 0; p < procs; p++) {
            int count = n / procs + (p < n % procs ? 1 : 0);
            for (int i = 0; i < count; i++) {
                out.add(tag + "-p" + p + "-" + i);
            }
        }
        return out;
    }

    /** One measured window of heartbeats. */
    record Window(double serverRate, double simRate, Hist rtt, Hist lag, long dropped, long held, double serverCpu, double serverRssMed,
                  double serverRssMax, double simCpu, double machine, double connected, long threads, long fds, double handleP99) {
    }

    Window measure(Ibex server, List<Procs.Child> sims, int seconds) {
        sims.forEach(s -> s.send("reset"));
        var before = server.metrics();
        long[] pids = new long[sims.size() + 1];
        pids[0] = server.pid();
        for (int i = 0; i < sims.size(); i++) {
            pids[i + 1] = sims.get(i).pid();
        }
        var w = new Procs.Window(pids);
        Procs.sleep(seconds * 1000L);
        var after = server.metrics();
        sims.forEach(s -> s.send("stats"));
        w.stop();
        var rtt = new Hist();
        var lag = new Hist();
        double replies = 0;
        long dropped = 0;
        long held = 0;
        double simCpu = 0;
        for (int i = 0; i < sims.size(); i++) {
            var kv = kv(sims.get(i).await("STATS", 30));
            rtt.merge(Hist.decode(kv.get("rtt")));
            lag.merge(Hist.decode(kv.get("lag")));
            replies += Double.parseDouble(kv.get("replies"));
            dropped += Long.parseLong(kv.get("lost")) + Long.parseLong(kv.get("late")) + Long.parseLong(kv.get("errors"));
            held += Long.parseLong(kv.get("live"));
            simCpu += w.cpu[i + 1];
            if (!kv.get("lastError").isEmpty()) {
                b.note("simulator " + i + " last error: " + kv.get("lastError").replace('_', ' '));
            }
        }
        return new Window(Ibex.delta(before, after, "ibex_heartbeats_total") / w.seconds, replies / w.seconds, rtt, lag, dropped, held,
                w.cpu[0], w.rssMedian(0), w.rssMax(0), simCpu, w.machineBusy, after.getOrDefault("ibex_agents_connected", 0.0),
                Procs.status(server.pid(), "Threads"), Procs.fds(server.pid()),
                Ibex.histogramQuantileMs(before, after, "ibex_heartbeat_handling_seconds", 0.99));
    }

    static Map<String, String> kv(String line) {
        var m = new java.util.HashMap<String, String>();
        for (var part : line.split(" ")) {
            int eq = part.indexOf('=');
            if (eq > 0) {
                m.put(part.substring(0, eq), part.substring(eq + 1));
            }
        }
        return m;
    }

    /** P1. */
    void agentsHeld() throws IOException {
        int[] sizes = b.sizes != null ? java.util.Arrays.stream(b.sizes.split(",")).mapToInt(Integer::parseInt).toArray()
                : b.quick ? new int[] {1000, 5000} : new int[] {1000, 5000, 10000, 18000};
        int runs = b.quick ? 1 : 3;
        int window = b.quick ? 5 : 20;
        int warm = b.quick ? 3 : 10;
        int fastAt = b.quick ? 5000 : 10000;
        var t = new Table("agents × interval", "heartbeats/s handled (median; per run)", "round trip p50 / p99 / max (ms)",
                "simulator lateness p99 / max (ms)", "held at end / dropped", "server CPU % of a core", "server RSS (median; max)", "server threads / fds", "simulator CPU %",
                "machine busy % (of 200)");
        var notes = new ArrayList<String>();
        double rssAt10k = Double.NaN;
        double bestRate = 0;
        double p99AtMax = Double.NaN;
        long droppedTotal = 0;
        long heldAtMax = 0;
        for (int n : sizes) {
            var dir = b.scratch.resolve("p1-" + n);
            try (var server = Ibex.server(b.bin, dir, Ibex.h2(dir), 1000, Map.of())) {
                var sims = sims(server, n, "a" + n);
                try {
                    Procs.sleep(warm * 1000L);
                    var ws = new ArrayList<Window>();
                    for (int r = 0; r < runs; r++) {
                        ws.add(measure(server, sims, window));
                    }
                    var row = row(n + " × 1 s", ws);
                    t.row(row);
                    droppedTotal += ws.stream().mapToLong(Window::dropped).sum();
                    heldAtMax = ws.stream().mapToLong(Window::held).min().orElse(0);
                    if (n == 10000) {
                        rssAt10k = Stats.median(ws.stream().map(Window::serverRssMed).toList());
                    }
                    if (n == sizes[sizes.length - 1]) {
                        p99AtMax = Stats.median(ws.stream().map(w -> w.rtt().quantile(0.99) / 1000.0).toList());
                    }
                    if (n == fastAt) {
                        sims.forEach(s -> s.send("interval 500"));
                        Procs.sleep(warm * 1000L);
                        var fast = new ArrayList<Window>();
                        for (int r = 0; r < runs; r++) {
                            fast.add(measure(server, sims, window));
                        }
                        t.row(row(n + " × 500 ms", fast));
                        bestRate = Stats.median(fast.stream().map(Window::serverRate).toList());
                        droppedTotal += fast.stream().mapToLong(Window::dropped).sum();
                    }
                } finally {
                    sims.forEach(Procs.Child::close);
                }
            }
        }
        notes.add("Server on the embedded store (H2), fresh for each size, default launcher flags. Agents connect at 4,000/s,"
                + " then beat at a fixed rate with a random phase; " + warm + " s warm-up, then " + runs + " window(s) of " + window
                + " s. Heartbeats/s are the server's own count (ibex_heartbeats_total on /metrics) over the window; round trips"
                + " are measured in the simulator (Heartbeat written → Assignments with that seq read), pooled over its processes.");
        notes.add("Each simulated agent connects from its own loopback address (127.10.x.y, 127.11.x.y, …), as a fleet comes from"
                + " many addresses. From one address to one server port, Linux searches for each new connection's ephemeral port"
                + " past the ones already open; at 18,000 that held the simulator in connect() for seconds (35 % of all CPU in"
                + " __inet_hash_connect under perf), and earlier runs' p99 of 57–205 ms and one reconnect storm at 18,000 were that.");
        notes.add("Dropped = heartbeats without a reply (lost or > 5 s late) + simulator connection errors. The simulator runs"
                + " on the same 2 cores; its CPU is shown, like the original's load generator.");
        int max = sizes[sizes.length - 1];
        b.section("P1 — agents held", "Java simulator (src/bench/AgentSim.java) speaking the real protocol through ibex.wire, "
                        + Fleet.PER_PROCESS + " agents per process at most",
                List.of(
                        new Bench.Target(max + " agents at 1 s held, nothing dropped (all sizes)", "18,000 (full run)",
                                heldAtMax + " held, " + droppedTotal + " dropped",
                                b.quick ? null : droppedTotal == 0 && heldAtMax >= 18000),
                        new Bench.Target("heartbeats/s (" + fastAt + " agents at 500 ms)", "20,000/s", Stats.f(bestRate) + "/s",
                                b.quick ? null : bestRate >= 19_000),
                        new Bench.Target("round trip p99 at " + max + " agents", "< 50 ms", Stats.f(p99AtMax) + " ms",
                                b.quick ? null : p99AtMax < 50),
                        new Bench.Target("server RSS at 10k agents", "≤ 200 MB", Stats.f(rssAt10k) + " MB",
                                Double.isNaN(rssAt10k) ? null : rssAt10k <= 200)),
                t, notes);
    }

    private static List<String> row(String label, List<Window> ws) {
        var rates = ws.stream().map(Window::serverRate).toList();
        var rtt = new Hist();
        var lag = new Hist();
        ws.forEach(w -> {
            rtt.merge(w.rtt());
            lag.merge(w.lag());
        });
        long dropped = ws.stream().mapToLong(Window::dropped).sum();
        return List.of(label,
                Stats.f(Stats.median(rates)) + " (" + Stats.runs(rates) + ")",
                Hist.ms(rtt.quantile(0.5)) + " / " + Hist.ms(rtt.quantile(0.99)) + " / " + Hist.ms(rtt.max()),
                Hist.ms(lag.quantile(0.99)) + " / " + Hist.ms(lag.max()),
                ws.stream().mapToLong(Window::held).min().orElse(0) + " / " + dropped,
                Stats.f(Stats.median(ws.stream().map(Window::serverCpu).toList())),
                Stats.f(Stats.median(ws.stream().map(Window::serverRssMed).toList())) + " MB; "
                        + Stats.f(Stats.max(ws.stream().map(Window::serverRssMax).toList())) + " MB",
                ws.getLast().threads() + " / " + ws.getLast().fds(),
                Stats.f(Stats.median(ws.stream().map(Window::simCpu).toList())),
                Stats.f(Stats.median(ws.stream().map(Window::machine).toList())));
    }

    /** P3. */
    void oneTaskManyHosts() throws IOException {
        int n = b.quick ? 5000 : 10000;
        // Five: on this VM one run takes 1 to 2.7 s (the machine's speed drifts from minute to
        // minute), and a median of three moved with it.
        int runs = b.quick ? 1 : 5;
        var dir = b.scratch.resolve("p3");
        var t = new Table("run", "POST answered", "create → first assigned", "create → all assigned", "last report → last stored",
                "report → stored p50 / p99 / max", "create → task done", "dispatch histogram p50 / p99 (/metrics)");
        var allAssigned = new ArrayList<Double>();
        var storedAfter = new ArrayList<Double>();
        try (var server = Ibex.server(b.bin, dir, Ibex.h2(dir), 1000, Map.of())) {
            var sims = sims(server, n, "m");
            var hosts = hosts("m", n);
            try {
                Procs.sleep(3000);
                // Run 0 warms the server up (the JIT compiles the creation, push and result paths, as
                // on a server that has been up a while); it is shown, not counted.
                for (int r = 0; r <= runs; r++) {
                    var before = server.metrics();
                    long t0 = System.currentTimeMillis();
                    long id = server.create("bench P3 run " + r, "#!/bin/sh\ntrue\n", hosts, "start", 0, 60);
                    long posted = System.currentTimeMillis();
                    long doneAt = 0;
                    long deadline = t0 + 120_000;
                    long assigned = 0;
                    long acked = 0;
                    long first = Long.MAX_VALUE;
                    long last = 0;
                    long lastReport = 0;
                    long lastAck = 0;
                    var ack = new Hist();
                    while (System.currentTimeMillis() < deadline) {
                        if (doneAt == 0 && server.done(id)) {
                            doneAt = System.currentTimeMillis();
                        }
                        assigned = acked = last = lastReport = lastAck = 0;
                        first = Long.MAX_VALUE;
                        ack.clear();
                        for (var s : sims) {
                            s.send("tasks");
                            String line;
                            while (!(line = s.await("TASK", 30)).equals("TASKS-END")) {
                                var kv = kv(line);
                                if (line.startsWith("TASK " + id + " ")) {
                                    assigned += Long.parseLong(kv.get("assigned"));
                                    acked += Long.parseLong(kv.get("acked"));
                                    first = Math.min(first, Long.parseLong(kv.get("firstAssign")));
                                    last = Math.max(last, Long.parseLong(kv.get("lastAssign")));
                                    lastReport = Math.max(lastReport, Long.parseLong(kv.get("lastReport")));
                                    lastAck = Math.max(lastAck, Long.parseLong(kv.get("lastAck")));
                                    ack.merge(Hist.decode(kv.get("ack")));
                                }
                            }
                        }
                        if (acked >= n && doneAt != 0) {
                            break;
                        }
                        Procs.sleep(250);
                    }
                    var after = server.metrics();
                    if (acked < n) {
                        b.note("P3 run " + r + ": only " + acked + " of " + n + " results acked within 120 s (" + assigned + " assigned)");
                    }
                    if (r > 0) {
                        allAssigned.add((double) (last - t0));
                        storedAfter.add((double) (lastAck - lastReport));
                    }
                    t.row(List.of(r == 0 ? "0 (warm-up, not counted)" : Integer.toString(r), (posted - t0) + " ms", (first - t0) + " ms", (last - t0) + " ms",
                            (lastAck - lastReport) + " ms",
                            Hist.ms(ack.quantile(0.5)) + " / " + Hist.ms(ack.quantile(0.99)) + " / " + Hist.ms(ack.max()) + " ms",
                            doneAt == 0 ? "not done" : (doneAt - t0) + " ms",
                            "≤ " + Stats.f(Ibex.histogramQuantileMs(before, after, "ibex_dispatch_latency_seconds", 0.5)) + " / ≤ "
                                    + Stats.f(Ibex.histogramQuantileMs(before, after, "ibex_dispatch_latency_seconds", 0.99)) + " ms"));
                    Procs.sleep(1000);
                }
            } finally {
                sims.forEach(Procs.Child::close);
            }
        }
        double a = Stats.median(allAssigned);
        double s = Stats.median(storedAfter);
        b.section("P3 — one task for " + String.format("%,d", n) + " hosts, batch 0",
                "simulated agents (" + ((n + PER_PROCESS - 1) / PER_PROCESS) + " AgentSim processes), server on H2",
                List.of(new Bench.Target("create → all " + n + " hosts assigned (median of runs)", "≤ 2 s", Stats.f(a) + " ms", a <= 2000),
                        new Bench.Target("all results stored after they were reported (median of runs)", "≤ 5 s", Stats.f(s) + " ms", s <= 5000)),
                t, List.of("Each simulated agent reports success as soon as its assignment arrives (an immediate heartbeat, like the"
                        + " agent after a script ends), and, like the agent, again only after a reply came without its ack; an"
                        + " ack means stored. Times are wall clock on one machine: t0 is taken just before the POST. 'Last"
                        + " report → last stored' is the time from the last first-report sent by any agent to the last ack"
                        + " received; 'report → stored' is per host.",
                        "Run 0 is the same task on the fresh server, before the counted runs: the first creation, push and"
                        + " result storing of that size run mostly interpreted code. It is in the table and not in the medians."));
    }
}
