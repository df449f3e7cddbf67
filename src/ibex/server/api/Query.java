package ibex.server.api;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/** URL query strings: first value of each name wins, as gin's c.Query does. */
final class Query {
    private Query() {
        throw new AssertionError();
    }

    static Map<String, String> parse(String raw) {
        var out = new HashMap<String, String>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (var pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            var k = decode(eq < 0 ? pair : pair.substring(0, eq));
            var v = eq < 0 ? "" : decode(pair.substring(eq + 1));
            out.putIfAbsent(k, v);
        }
        return out;
    }

    private static String decode(String s) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return s;
        }
    }

    /** An integer query value with a default; a bad one is the original's 400 text. */
    static int intParam(Http.Call c, String name, int dflt) {
        var v = c.query(name);
        if (v == null || v.isEmpty()) {
            return dflt;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw Http.stop(400, "cannot convert [" + v + "] to int");
        }
    }
}
