package ibex.server.api;

import ibex.core.Counters;
import ibex.core.Log;
import ibex.store.StoreException;
import java.util.Locale;

/**
 * GET /metrics: the server's {@link Counters} in the Prometheus text format (version 0.0.4).
 * Behind the same basic auth as /ibex/v1. A gauge that cannot be read (the database is down) is
 * left out of that scrape with a comment line; the rest is still served.
 */
final class MetricsRoute {
    private final Counters counters;

    MetricsRoute(Counters counters) {
        this.counters = counters;
    }

    Http.Reply serve(Http.Call c) {
        return new Http.TextReply(200, render(counters));
    }

    static String render(Counters counters) {
        var b = new StringBuilder(4096);
        for (var c : Counters.Counter.values()) {
            head(b, c.metric, c.help, "counter");
            b.append(c.metric).append(' ').append(counters.get(c)).append('\n');
        }
        for (var t : Counters.Timer.values()) {
            head(b, t.metric, t.help, "histogram");
            var s = counters.snapshot(t);
            long cumulative = 0;
            for (int i = 0; i < s.buckets().length; i++) {
                cumulative += s.buckets()[i];
                String le = i < Counters.BOUNDS_MICROS.length ? seconds(Counters.BOUNDS_MICROS[i]) : "+Inf";
                b.append(t.metric).append("_bucket{le=\"").append(le).append("\"} ").append(cumulative).append('\n');
            }
            b.append(t.metric).append("_sum ").append(seconds(s.sumMicros())).append('\n');
            b.append(t.metric).append("_count ").append(s.count()).append('\n');
        }
        for (var g : counters.gauges()) {
            try {
                if (g.label() == null) {
                    long v = g.value().getAsLong();
                    head(b, g.metric(), g.help(), g.counter() ? "counter" : "gauge");
                    b.append(g.metric()).append(' ').append(v).append('\n');
                } else {
                    var values = g.values().get();
                    head(b, g.metric(), g.help(), "gauge");
                    values.forEach((k, v) -> b.append(g.metric()).append('{').append(g.label()).append("=\"")
                            .append(escape(k)).append("\"} ").append(v).append('\n'));
                }
            } catch (StoreException e) {
                Log.debug("api", "/metrics: " + g.metric() + " not read: " + e.getMessage());
                b.append("# ").append(g.metric()).append(" unavailable: the database did not answer\n");
            }
        }
        return b.toString();
    }

    private static void head(StringBuilder b, String metric, String help, String type) {
        b.append("# HELP ").append(metric).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
        b.append("# TYPE ").append(metric).append(' ').append(type).append('\n');
    }

    private static String seconds(long micros) {
        return String.format(Locale.ROOT, "%.6f", micros / 1e6).replaceFirst("0+$", "").replaceFirst("\\.$", "");
    }

    private static String escape(String labelValue) {
        return labelValue.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }
}
