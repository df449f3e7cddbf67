package ibex.server.api;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonObject;
import com.eclipsesource.json.JsonValue;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * One request and its reply, in the original's envelope (reference §1.1): {@code {"dat":…,"err":""}}
 * on success, {@code {"err":"…"}} on failure, with the original's status codes.
 */
final class Http {
    private Http() {
        throw new AssertionError();
    }

    /** A request: the exchange, the path parameters and the authenticated user ("" without auth). */
    record Call(HttpExchange exchange, Map<String, String> params, String user) {
        String param(String name) {
            return params.get(name);
        }

        String query(String name) {
            return Query.parse(exchange.getRequestURI().getRawQuery()).get(name);
        }
    }

    /** What a handler answers; written by {@link #send}. */
    sealed interface Reply permits JsonReply, TextReply {
    }

    record JsonReply(int status, JsonValue body) implements Reply {
    }

    record TextReply(int status, String text) implements Reply {
    }

    /** Thrown by handlers for a request that ends early with the given reply (bad id, bad body). */
    static final class Stop extends RuntimeException {
        final transient Reply reply;

        Stop(Reply reply) {
            super(null, null, false, false);
            this.reply = reply;
        }
    }

    static Reply dat(JsonValue dat) {
        return new JsonReply(200, new JsonObject().add("dat", dat).add("err", ""));
    }

    /** Success without data: the original sends {"err":""} with no dat key. */
    static Reply ok() {
        return new JsonReply(200, new JsonObject().add("err", ""));
    }

    static Reply err(int status, String message) {
        return new JsonReply(status, new JsonObject().add("err", message));
    }

    static Stop stop(int status, String message) {
        return new Stop(err(status, message));
    }

    static long id(Call c) {
        var s = c.param("id");
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            throw stop(400, "cannot convert " + s + " to int64");
        }
    }

    /**
     * Reads the body up to {@code max} bytes; a longer one is refused with 413 naming the limit.
     * A body with a Content-Length under the limit is read into a buffer of that size: asking for
     * {@code max + 1} bytes allocated a 16 KiB buffer for every request, most of the API's
     * garbage under a burst of creations (issue 6, P6).
     */
    static String body(Call c, int max) throws IOException {
        long declared = declaredLength(c.exchange());
        try (InputStream in = c.exchange().getRequestBody()) {
            var bytes = in.readNBytes(declared >= 0 && declared <= max ? (int) declared : max + 1);
            if (bytes.length > max) {
                throw stop(413, "request body larger than the limit of " + max + " bytes");
            }
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    /** The request's Content-Length, or -1 when it has none or an unreadable one. */
    private static long declaredLength(HttpExchange ex) {
        var v = ex.getRequestHeaders().getFirst("Content-Length");
        try {
            return v == null ? -1 : Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Parses a JSON object body; anything else is the original's 400 "json body invalid". */
    static JsonObject jsonObject(String body) {
        JsonValue v;
        try {
            v = Json.parse(body);
        } catch (com.eclipsesource.json.ParseException e) {
            throw stop(400, "json body invalid: " + e.getMessage());
        } catch (RuntimeException e) {
            throw stop(400, "json body invalid: " + e);
        }
        if (!v.isObject()) {
            throw stop(400, "json body invalid: expected a JSON object");
        }
        return v.asObject();
    }

    static void send(HttpExchange ex, Reply reply) throws IOException {
        byte[] bytes;
        int status;
        switch (reply) {
            case JsonReply j -> {
                status = j.status();
                bytes = j.body().toString().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
            }
            case TextReply t -> {
                status = t.status();
                bytes = t.text().getBytes(StandardCharsets.UTF_8);
                ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
            }
        }
        if ("HEAD".equals(ex.getRequestMethod())) {
            ex.sendResponseHeaders(status, -1);
            return;
        }
        ex.sendResponseHeaders(status, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            try (var out = ex.getResponseBody()) {
                out.write(bytes);
            }
        }
    }
}
