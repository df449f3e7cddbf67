package ibex.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The numbers one server keeps about itself for {@code /metrics}: event counters, latency
 * histograms with fixed buckets, and gauges read on demand. One instance per server, made by the
 * composition root and handed to the parts that count; no global instance, so two servers in one
 * JVM (tests) keep their own numbers.
 *
 * <p>Why in {@code ibex.core}: the agent listener, the scheduler and the HTTP API all count, and by
 * the package rules core is the only package all three may import. It stays vocabulary-like: the
 * names of the things counted, plain adders, no I/O, no threads, no text format (the API renders
 * Prometheus text). Counting is a {@link LongAdder} increment: cheap enough for every heartbeat.
 */
public final class Counters {
    /** Things counted; the Prometheus name and help are part of the contract of /metrics. */
    public enum Counter {
        HEARTBEATS("ibex_heartbeats_total", "Heartbeats received from agents."),
        REPORTS("ibex_reports_total", "Results received from agents, stored or not (a result sent again counts each time)."),
        RESULTS_STORED("ibex_results_stored_total", "Results that changed a host's row in the store."),
        OUTPUT_BYTES("ibex_output_bytes_stored_total", "UTF-8 bytes of stdout and stderr stored with results."),
        TIMEOUTS("ibex_timeouts_total", "Runs ended as timeout: reported by an agent or marked by the scheduler."),
        KILLS("ibex_kills_total", "Kills requested through this server (hosts moved to killing)."),
        FRAME_ERRORS("ibex_frame_errors_total", "Agent connections closed for a malformed, oversize or unexpected frame."),
        AGENT_CONNECTS("ibex_agent_connects_total", "Agents welcomed on the agent port."),
        AGENT_REFUSALS("ibex_agent_connections_refused_total",
                "Connections the agent port refused at once: its MaxConnections, or one address's handshakes in progress, were reached."),
        HANDSHAKE_TIMEOUTS("ibex_handshake_timeouts_total", "Agent connections closed for not sending their Hello in time."),
        PUSHES("ibex_pushes_total", "Assignments pushed to agents between heartbeats (new starts and kills).");

        public final String metric;
        public final String help;

        Counter(String metric, String help) {
            this.metric = metric;
            this.help = help;
        }
    }

    /** Latencies kept as histograms. */
    public enum Timer {
        DISPATCH("ibex_dispatch_latency_seconds",
                "Run started by the scheduler (its clock; for a new task the pass right after its creation)"
                        + " until the Assignments naming it were written to the host's agent."),
        HEARTBEAT("ibex_heartbeat_handling_seconds",
                "Heartbeat received until its reply is written, results stored included.");

        public final String metric;
        public final String help;

        Timer(String metric, String help) {
            this.metric = metric;
            this.help = help;
        }
    }

    /** Upper bounds of the histogram buckets, in microseconds; an implicit +Inf bucket follows. */
    public static final long[] BOUNDS_MICROS = {
        250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
        2_500_000, 5_000_000, 10_000_000,
    };

    /**
     * A value read when /metrics is served. {@code counter} says whether it only grows; a labelled
     * gauge has a label name and a supplier of label value → number, the others one number.
     */
    public record Gauge(String metric, String help, boolean counter, String label, LongSupplier value,
                        Supplier<Map<String, Long>> values) {
    }

    /** A histogram at one moment: per-bucket counts (not cumulative, last is +Inf), sum, count. */
    public record Snapshot(long[] buckets, long sumMicros, long count) {
    }

    private final LongAdder[] counts = adders(Counter.values().length);
    private final LongAdder[][] buckets = new LongAdder[Timer.values().length][];
    private final LongAdder[] sums = adders(Timer.values().length);
    private final List<Gauge> gauges = new CopyOnWriteArrayList<>();

    public Counters() {
        for (int i = 0; i < buckets.length; i++) {
            buckets[i] = adders(BOUNDS_MICROS.length + 1);
        }
    }

    private static LongAdder[] adders(int n) {
        var a = new LongAdder[n];
        for (int i = 0; i < n; i++) {
            a[i] = new LongAdder();
        }
        return a;
    }

    public void inc(Counter c) {
        counts[c.ordinal()].increment();
    }

    public void add(Counter c, long n) {
        if (n != 0) {
            counts[c.ordinal()].add(n);
        }
    }

    public long get(Counter c) {
        return counts[c.ordinal()].sum();
    }

    /** Records one latency; negative values (clock steps) count as 0. */
    public void observeMicros(Timer t, long micros) {
        long v = Math.max(0, micros);
        int i = 0;
        while (i < BOUNDS_MICROS.length && v > BOUNDS_MICROS[i]) {
            i++;
        }
        buckets[t.ordinal()][i].increment();
        sums[t.ordinal()].add(v);
    }

    public Snapshot snapshot(Timer t) {
        var b = buckets[t.ordinal()];
        var out = new long[b.length];
        long count = 0;
        for (int i = 0; i < b.length; i++) {
            out[i] = b[i].sum();
            count += out[i];
        }
        return new Snapshot(out, sums[t.ordinal()].sum(), count);
    }

    /** Registers a number read at each scrape. */
    public void gauge(String metric, String help, LongSupplier value) {
        gauges.add(new Gauge(metric, help, false, null, value, null));
    }

    /** Registers a growing number kept elsewhere (the store's error count, say). */
    public void counter(String metric, String help, LongSupplier value) {
        gauges.add(new Gauge(metric, help, true, null, value, null));
    }

    /** Registers a family of numbers by one label, read at each scrape (hosts by status, say). */
    public void gauge(String metric, String help, String label, Supplier<Map<String, Long>> values) {
        gauges.add(new Gauge(metric, help, false, label, null, values));
    }

    public List<Gauge> gauges() {
        return new ArrayList<>(gauges);
    }
}
