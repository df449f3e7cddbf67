package bench;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;

/** Medians, percentiles and number formats for the tables. */
final class Stats {
    private Stats() {
    }

    static double median(Collection<Double> values) {
        return quantile(values, 0.5);
    }

    /** Nearest-rank quantile; NaN when empty. */
    static double quantile(Collection<Double> values, double q) {
        var list = new ArrayList<>(values);
        list.removeIf(v -> v == null || v.isNaN());
        if (list.isEmpty()) {
            return Double.NaN;
        }
        list.sort(null);
        if (q == 0.5 && list.size() % 2 == 0) {
            return (list.get(list.size() / 2 - 1) + list.get(list.size() / 2)) / 2;
        }
        int rank = (int) Math.ceil(q * list.size());
        return list.get(Math.max(0, Math.min(list.size() - 1, rank - 1)));
    }

    static double mean(Collection<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
    }

    static double min(Collection<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    static double max(Collection<Double> values) {
        return values.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }

    /** "1.23" / "12.3" / "123": three significant figures or so. */
    static String f(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        double a = Math.abs(v);
        String s = a >= 100 ? String.format(Locale.ROOT, "%,.0f", v)
                : a >= 10 ? String.format(Locale.ROOT, "%.1f", v)
                : a >= 1 ? String.format(Locale.ROOT, "%.2f", v)
                : String.format(Locale.ROOT, "%.3f", v);
        return s;
    }

    /** "a / b / c" of the per-run values. */
    static String runs(List<Double> values) {
        var parts = new ArrayList<String>();
        values.forEach(v -> parts.add(f(v)));
        return String.join(" / ", parts);
    }
}
