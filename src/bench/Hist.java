package bench;

import java.util.Locale;

/**
 * A latency histogram in microseconds with about 1.6 % resolution (64 linear steps per power of
 * two), mergeable across processes through a compact text form. Not thread-safe.
 */
final class Hist {
    private static final int SUB = 64;
    private static final int SLOTS = 40 * SUB;
    private final long[] counts = new long[SLOTS];
    private long total;
    private long max;

    void record(long micros) {
        long v = Math.max(0, micros);
        counts[index(v)]++;
        total++;
        max = Math.max(max, v);
    }

    static int index(long v) {
        if (v < SUB) {
            return (int) v;
        }
        int exp = 63 - Long.numberOfLeadingZeros(v) - 5;      // v >> exp is in [32, 64)
        int mantissa = (int) (v >> exp);
        return Math.min(SLOTS - 1, exp * (SUB / 2) + mantissa);
    }

    /** The upper edge of slot i, in microseconds. */
    static long upper(int i) {
        if (i < SUB) {
            return i;
        }
        int exp = i / (SUB / 2) - 1;
        int mantissa = i % (SUB / 2) + SUB / 2;
        return ((long) (mantissa + 1) << exp) - 1;
    }

    long count() {
        return total;
    }

    long max() {
        return max;
    }

    /** The value at quantile q (0..1), in microseconds; 0 when empty. */
    long quantile(double q) {
        if (total == 0) {
            return 0;
        }
        long rank = Math.max(1, (long) Math.ceil(q * total));
        long seen = 0;
        for (int i = 0; i < SLOTS; i++) {
            seen += counts[i];
            if (seen >= rank) {
                return Math.min(upper(i), max);
            }
        }
        return max;
    }

    void merge(Hist o) {
        for (int i = 0; i < SLOTS; i++) {
            counts[i] += o.counts[i];
        }
        total += o.total;
        max = Math.max(max, o.max);
    }

    void clear() {
        java.util.Arrays.fill(counts, 0);
        total = 0;
        max = 0;
    }

    /** "max;i:n,i:n,..." */
    String encode() {
        var b = new StringBuilder().append(max).append(';');
        for (int i = 0; i < SLOTS; i++) {
            if (counts[i] != 0) {
                b.append(i).append(':').append(counts[i]).append(',');
            }
        }
        return b.toString();
    }

    static Hist decode(String s) {
        var h = new Hist();
        int semi = s.indexOf(';');
        h.max = Long.parseLong(s.substring(0, semi));
        for (var part : s.substring(semi + 1).split(",")) {
            if (part.isEmpty()) {
                continue;
            }
            int colon = part.indexOf(':');
            long n = Long.parseLong(part.substring(colon + 1));
            h.counts[Integer.parseInt(part.substring(0, colon))] += n;
            h.total += n;
        }
        return h;
    }

    static String ms(long micros) {
        return micros < 10_000 ? String.format(Locale.ROOT, "%.2f", micros / 1000.0)
                : micros < 100_000 ? String.format(Locale.ROOT, "%.1f", micros / 1000.0)
                : Long.toString(Math.round(micros / 1000.0));
    }
}
