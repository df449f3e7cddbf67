package ibex.server;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.HashMap;
import java.util.Map;

/** Reads the Prometheus text of {@code /metrics}, for every test harness that scrapes it. */
public final class Scrape {
    private Scrape() {
    }

    /** Every sample: "name" or "name{label=\"v\"}" → value. */
    public static Map<String, Double> samples(String body) {
        var out = new HashMap<String, Double>();
        for (var line : body.split("\n")) {
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            int space = line.lastIndexOf(' ');
            out.put(line.substring(0, space), Double.parseDouble(line.substring(space + 1)));
        }
        return out;
    }

    /** One sample, e.g. ibex_agents_connected; the test fails when the body has none. */
    public static double sample(String body, String name) {
        var v = samples(body).get(name);
        return v != null ? v : fail("no " + name + " in /metrics:\n" + body);
    }
}
