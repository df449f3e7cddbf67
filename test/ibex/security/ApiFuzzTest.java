package ibex.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonObject;
import com.eclipsesource.json.JsonValue;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Malformed API requests, generated from a fixed seed and sent byte for byte over a socket: random
 * and truncated bodies, wrong JSON types, huge numbers, deep nesting, invalid UTF-8, bad ids and
 * escapes in paths, bad query integers, methods a route does not take. Every answer must be a
 * client error with a JSON {@code err} (a 4xx, or the original's HTTP 200 + err), never a 5xx,
 * never a hang; afterwards nothing was created or changed and a normal task still runs.
 * {@code make fuzz} runs it with more iterations ({@code -Dibex.fuzz.iterations}).
 */
class ApiFuzzTest {
    private static final long SEED = 0x1BE5_A915L;
    static SecureServer s;
    static long target;

    @BeforeAll
    static void start() throws IOException {
        s = SecureServer.start(SecureServer.Options.token());
        s.agent("fuzz-ok");
        target = s.create(SecureServer.task("ghost-fz").set("title", "fuzztarget"));
    }

    @AfterAll
    static void stop() {
        if (s != null) {
            s.close();
        }
    }

    record Case(String kind, String method, String target, String auth, byte[] body) {
        @Override
        public String toString() {
            String b = body == null ? "" : new String(body, 0, Math.min(body.length, 160), StandardCharsets.ISO_8859_1)
                    + (body.length > 160 ? "...(" + body.length + " bytes)" : "");
            return kind + ": " + method + " " + (target.length() > 160 ? target.substring(0, 160) + "..." : target) + " " + b;
        }
    }

    @Test
    void malformedRequests_fixedSeed_allGetAJsonClientError_andTheServerKeepsServing() throws IOException {
        long seed = Fuzz.seed(SEED);
        int n = Fuzz.iterations(1000);
        var rnd = new Random(seed);
        Map<String, List<String>> failures = new LinkedHashMap<>();
        Map<String, Integer> kinds = new LinkedHashMap<>();
        for (int i = 0; i < n; i++) {
            var c = generate(rnd);
            kinds.merge(c.kind(), 1, Integer::sum);
            String problem = check(c);
            if (problem != null) {
                String shape = problem.replaceAll("[0-9]+", "N");
                failures.computeIfAbsent(c.kind() + ": " + shape.substring(0, Math.min(60, shape.length())),
                        k -> new ArrayList<>()).add("#" + i + " " + c + "\n      → " + problem);
            }
        }
        if (!failures.isEmpty()) {
            var report = new StringBuilder("seed " + seed + ", " + n + " requests, " + failures.values().stream().mapToInt(List::size).sum()
                    + " bad answers in " + failures.size() + " groups:\n");
            failures.forEach((group, list) -> report.append("  [").append(list.size()).append("x] ").append(list.getFirst()).append('\n'));
            fail(report.toString());
        }
        assertTrue(kinds.size() >= 12, "every kind of malformed request was sent: " + kinds);

        // nothing was created or changed by all that
        var task = s.task(target);
        assertEquals("pause", task.getString("action", null));
        assertEquals("waiting", SecureServer.statusOf(task, "ghost-fz"));
        assertEquals(1, s.get("/ibex/v1/tasks?days=1&limit=100").dat().asObject().getLong("total", -1), "only the target task exists");
        // and the server still does its job
        s.assertRunsOn("fuzz-ok");
    }

    /**
     * A malformed percent escape is refused by the JDK's HTTP server before any ibex code runs
     * (its own text/html 400 "URISyntaxException thrown"): a client error, never a 5xx, and the
     * escape never reaches the route's URL decoding.
     */
    @Test
    void aMalformedPercentEscapeInThePath_isAClientError_andNeverReachesARoute() throws IOException {
        for (var path : List.of("/ibex/v1/task/%ZZ", "/ibex/v1/task/1%/state", "/ibex/v1/task/" + target + "/host/%G0/output",
                "/ibex/v1/agent/web%/pin", "/ibex/v1/tasks?limit=%Z1")) {
            var method = path.endsWith("/pin") ? "DELETE" : "GET";
            var a = RawHttp.send(s.server.httpAddress(), RawHttp.request(method, path, SecureServer.AUTH, null), 60_000);
            assertEquals(400, a.status(), method + " " + path + " → " + a);
        }
        assertEquals(200, s.get("/ping").status());
    }

    /**
     * Deep nesting must not overflow the stack of the recursive JSON parser (a StackOverflowError
     * would escape every handler and leave the client without an answer); minimal-json stops at
     * 1,000 levels with a ParseException, so this guards the choice of parser.
     */
    @Test
    void deeplyNestedJson_isA400_jsonBodyInvalid() throws IOException {
        for (int depth : List.of(100_000, 1_000_000)) {
            var body = new ByteArrayOutputStream();
            body.writeBytes("{\"hosts\":".getBytes(StandardCharsets.US_ASCII));
            body.writeBytes("[".repeat(depth).getBytes(StandardCharsets.US_ASCII));
            body.writeBytes("]".repeat(depth).getBytes(StandardCharsets.US_ASCII));
            body.writeBytes("}".getBytes(StandardCharsets.US_ASCII));
            RawHttp.Answer a;
            try {
                a = RawHttp.send(s.server.httpAddress(), RawHttp.request("POST", "/ibex/v1/tasks", SecureServer.AUTH, body.toByteArray()), 60_000);
            } catch (IOException e) {
                throw new AssertionError("depth " + depth + ": no HTTP answer: " + e.getMessage(), e);
            }
            assertEquals(400, a.status(), "depth " + depth + " → " + a);
            assertTrue(Json.parse(a.text()).asObject().getString("err", "").startsWith("json body invalid"), a::toString);
        }
        assertEquals(200, s.get("/ping").status());
    }

    @Test
    void invalidUtf8InsideAJsonString_isNeverA5xx_andNeverStoredAsInvalidText() throws IOException {
        var json = SecureServer.task("ghost-utf").set("title", "utf8-XX").toString().getBytes(StandardCharsets.UTF_8);
        var body = new String(json, StandardCharsets.ISO_8859_1).replace("XX", "\u00ff\u00fe").getBytes(StandardCharsets.ISO_8859_1);
        var a = RawHttp.send(s.server.httpAddress(), RawHttp.request("POST", "/ibex/v1/tasks", SecureServer.AUTH, body), 60_000);
        assertTrue(a.status() < 500, a::toString);
        if (a.status() == 200 && Json.parse(a.text()).asObject().getString("err", "x").isEmpty()) {
            // accepted with replacement characters: what is stored is valid text
            long id = Json.parse(a.text()).asObject().getLong("dat", -1);
            var title = s.task(id).get("meta").asObject().getString("title", "");
            assertTrue(title.startsWith("utf8-\uFFFD\uFFFD"), title);
            s.put("/ibex/v1/task/" + id + "/action", "{\"action\":\"cancel\"}");
        }
    }

    // ---- the oracle ------------------------------------------------------------------------------

    /** Null when the answer is a proper client error, else what is wrong with it. */
    private static String check(Case c) {
        RawHttp.Answer a;
        try {
            a = RawHttp.send(s.server.httpAddress(), RawHttp.request(c.method(), c.target(), c.auth(), c.body()), 60_000);
        } catch (IOException e) {
            return "no answer: " + e.getMessage();
        }
        if (!validUri(c.target())) {
            // the JDK's HTTP server refuses the request line itself, in text/html
            return a.status() >= 400 && a.status() < 500 ? null : "invalid URI answered " + a;
        }
        return verdict(a, c.method().equals("HEAD"));
    }

    private static boolean validUri(String target) {
        try {
            new java.net.URI(target);
            return true;
        } catch (java.net.URISyntaxException e) {
            return false;
        }
    }

    private static String verdict(RawHttp.Answer a, boolean head) {
        if (a.status() >= 500) {
            return "server error " + a;
        }
        if (a.status() < 400 && a.status() != 200) {
            return "status " + a;
        }
        if (head) {
            return a.status() == 200 ? "HEAD answered 200 for a malformed request" : null;
        }
        if (!a.headers().contains("content-type: application/json")) {
            return "not JSON: " + a + " headers " + a.headers().replace("\r\n", " | ");
        }
        JsonValue v;
        try {
            v = Json.parse(a.text());
        } catch (RuntimeException e) {
            return "unparseable JSON " + a;
        }
        if (!v.isObject()) {
            return "JSON but not an object " + a;
        }
        var err = v.asObject().get("err");
        if (err == null || !err.isString() || err.asString().isEmpty()) {
            return "no err " + a;
        }
        return null;
    }

    // ---- generators: every case is malformed in at least one way ---------------------------------

    private static final String[] BAD_IDS = {"abc", "1.5", "0x10", "99999999999999999999", "%2e%2e", "%ZZ", "%", "-", "1e3",
        "%20", "%00", "NaN", "%5B1%5D", "1;2", "null", "true", "1%2F2", "%E2%80%AE1"};
    private static final String[] ID_ROUTES = {"GET ", "GET /stdout", "GET /stderr", "GET /state", "GET /result",
        "GET /stdout.txt", "GET /stderr.txt", "GET /stdout.json", "GET /stderr.json", "PUT /action",
        "PUT /host/ghost-fz/action", "GET /host/ghost-fz/output", "GET /host/ghost-fz/stdout", "GET /host/ghost-fz/stderr"};
    private static final String[] BAD_INTS = {"x", "1.5", "99999999999", "-99999999999", "1e3", "%ZZ", "0x1F", "%00", "+-1",
        "１２", "9223372036854775808", "NaN", "[]"};
    private static final String[] HUGE = {"1e400", "-1e400", "9223372036854775808", "2147483648", "-2147483649", "1.5", "0.1",
        "123456789012345678901234567890", "1E+309"};
    private static final String[] WRONG = {"1", "-7", "true", "false", "[]", "{}", "[\"a\"]", "{\"a\":1}", "1.5", "\"\""};
    private static final String[] STRING_FIELDS = {"title", "account", "script", "action", "creator", "args", "stdin", "pause"};
    private static final String[] REQUIRED = {"title", "account", "script", "action", "creator", "hosts"};
    private static final String[] ODD_METHODS = {"FOO", "PATCH", "PROPFIND", "OPTIONS", "TRACE", "DELETE", "BREW", "M-SEARCH"};

    private static Case generate(Random r) {
        String auth = r.nextInt(20) == 0 ? (r.nextBoolean() ? null : SecureServer.basic("ibex", "guess-" + r.nextInt(1000)))
                : SecureServer.AUTH;
        return switch (r.nextInt(14)) {
            case 0 -> create("create-random-bytes", auth, randomBytes(r, 2000));
            case 1 -> {
                var full = validTask(r).getBytes(StandardCharsets.UTF_8);
                yield create("create-truncated", auth, java.util.Arrays.copyOf(full, r.nextInt(full.length)));
            }
            case 2 -> {
                boolean str = r.nextBoolean();
                String field = str ? pick(r, STRING_FIELDS) : pick(r, new String[] {"batch", "tolerance", "timeout", "hosts"});
                String value = field.equals("hosts") ? pick(r, new String[] {"\"web-1\"", "[1]", "[[\"a\"]]", "{}", "[null, 2]", "7", "true", "[{}]"})
                        : str ? pick(r, WRONG) : pick(r, new String[] {"\"two\"", "true", "[]", "{}", "\"1.5\"", "\"%\"", "\"-5%\"", "\"101%\"x"});
                if (value.equals("\"\"") && List.of("args", "stdin", "pause").contains(field)) {
                    value = "[\"\"]";   // "" is a fine value of the optional text fields
                }
                yield create("create-wrong-type", auth, replaceField(validTask(r), field, value).getBytes(StandardCharsets.UTF_8));
            }
            case 3 -> {
                var o = Json.parse(validTask(r)).asObject();
                o.remove(pick(r, REQUIRED));
                yield create("create-missing-field", auth, o.toString().getBytes(StandardCharsets.UTF_8));
            }
            case 4 -> create("create-huge-number", auth, replaceField(validTask(r), pick(r, new String[] {"batch", "tolerance", "timeout"}),
                    pick(r, HUGE)).getBytes(StandardCharsets.UTF_8));
            case 5 -> {
                int depth = new int[] {2, 50, 5_000, 20_000}[r.nextInt(4)];
                String nest = "[".repeat(depth) + "]".repeat(depth);
                String body = r.nextBoolean() ? nest : replaceField(validTask(r), "hosts", nest);
                yield create("create-nested-arrays", auth, body.getBytes(StandardCharsets.UTF_8));
            }
            case 6 -> {
                // invalid UTF-8 between the tokens: never a string's content, so never valid JSON
                var text = validTask(r);
                int at = text.indexOf(',', r.nextInt(text.length() / 2)) + 1;
                var out = new ByteArrayOutputStream();
                out.writeBytes(text.substring(0, at).getBytes(StandardCharsets.UTF_8));
                out.writeBytes(pick(r, new byte[][] {{(byte) 0xFF}, {(byte) 0xC0, (byte) 0x80}, {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
                    {(byte) 0xF8, (byte) 0x88, (byte) 0x80, (byte) 0x80, (byte) 0x80}, {(byte) 0x80}}));
                out.writeBytes(text.substring(at).getBytes(StandardCharsets.UTF_8));
                yield create("create-invalid-utf8", auth, out.toByteArray());
            }
            case 7 -> create("create-not-an-object", auth, pick(r, new String[] {"[]", "null", "42", "\"task\"", "true", "", " ", "{}",
                "{\"hosts\":[]}", "[" + validTask(r) + "]"}).getBytes(StandardCharsets.UTF_8));
            case 8 -> {
                String body = r.nextBoolean() ? new String(randomBytes(r, 200), StandardCharsets.ISO_8859_1)
                        : pick(r, new String[] {"{\"action\":7}", "{\"action\":null}", "{\"action\":[\"start\"]}", "{\"action\":\"START \"}",
                            "{\"action\":\"explode\"}", "{}", "[\"start\"]", "\"start\"", "{\"action\":\"start\"", "{\"action\":{\"a\":1}}"});
                yield new Case("task-action-bad-body", "PUT", "/ibex/v1/task/" + target + "/action", auth,
                        body.getBytes(StandardCharsets.ISO_8859_1));
            }
            case 9 -> {
                String body = r.nextBoolean() ? new String(randomBytes(r, 200), StandardCharsets.ISO_8859_1)
                        : pick(r, new String[] {"[\"ignore\"]", "\"kill\"", "", "{", "null", "[" + "[".repeat(3000)});
                if (body.startsWith("{") && body.endsWith("}")) {
                    body = "[" + body;   // an object with an unknown action would be the original's silent ok
                }
                yield new Case("host-action-bad-body", "PUT", "/ibex/v1/task/" + target + "/host/ghost-fz/action", auth,
                        body.getBytes(StandardCharsets.ISO_8859_1));
            }
            case 10 -> {
                var route = pick(r, ID_ROUTES).split(" ", 2);
                byte[] body = route[0].equals("PUT") ? "{\"action\":\"cancel\"}".getBytes(StandardCharsets.UTF_8) : null;
                yield new Case("bad-task-id", route[0], "/ibex/v1/task/" + pick(r, BAD_IDS) + route[1], auth, body);
            }
            case 11 -> {
                String v = pick(r, BAD_INTS);
                String t = switch (r.nextInt(6)) {
                    case 0 -> "/ibex/v1/tasks?limit=" + v;
                    case 1 -> "/ibex/v1/tasks?p=" + v;
                    case 2 -> "/ibex/v1/tasks?days=" + v + "&limit=5";
                    case 3 -> "/ibex/v1/audit?task=" + v;
                    case 4 -> "/ibex/v1/audit?limit=" + v;
                    default -> "/ibex/v1/tasks/done-ids?ids=" + pick(r, new String[] {"", ",", "x,y", "%ZZ", "1.5", "a%2Cb"});
                };
                yield new Case("bad-query-int", "GET", t, auth, null);
            }
            case 12 -> {
                String host = pick(r, new String[] {"%ZZ", "%", "nope", "h".repeat(5000), "%2e%2e%2fetc", "a%00b", "%E0%A4", "ghost-fz%20"});
                var route = pick(r, new String[] {"GET /output", "GET /stdout", "GET /stderr", "PUT /action", "DELETE /pin"}).split(" ", 2);
                String t = route[1].equals("/pin") ? "/ibex/v1/agent/" + host + "/pin" : "/ibex/v1/task/" + target + "/host/" + host + route[1];
                byte[] body = route[0].equals("PUT") ? "{\"action\":\"ignore\"}".getBytes(StandardCharsets.UTF_8) : null;
                yield new Case("bad-host-param", route[0], t, auth, body);
            }
            default -> {
                String t = pick(r, new String[] {"/ibex/v1/tasks", "/ibex/v1/task/" + target, "/ibex/v1/task/" + target + "/action",
                    "/ibex/v1/audit", "/ibex/v1/agent/x/pin", "/ibex/v1/task/" + target + "/host/ghost-fz/action", "/ibex/v1/tasks/done-ids"});
                String m = pick(r, ODD_METHODS);
                if (m.equals("DELETE") && t.endsWith("/pin")) {
                    m = "POST";
                }
                if (t.endsWith("/pin") || t.endsWith("/tasks/done-ids") || t.endsWith("/audit") || t.equals("/ibex/v1/task/" + target)) {
                    m = r.nextBoolean() ? m : pick(r, new String[] {"PUT", "POST"});
                } else if (t.endsWith("/action")) {
                    m = r.nextBoolean() ? m : pick(r, new String[] {"GET", "POST", "HEAD"});
                } else {
                    m = r.nextBoolean() ? m : "PUT";
                }
                yield new Case("wrong-method", m, t, auth, "{}".getBytes(StandardCharsets.UTF_8));
            }
        };
    }

    private static Case create(String kind, String auth, byte[] body) {
        return new Case(kind, "POST", "/ibex/v1/tasks", auth, body);
    }

    /** A task that would be created as is; every generator breaks it. */
    private static String validTask(Random r) {
        return new JsonObject().add("title", "fuzz-" + r.nextInt(100)).add("account", System.getProperty("user.name"))
                .add("script", "#!/bin/sh\necho fuzz\n").add("action", "pause").add("creator", "fuzzer").add("batch", 1)
                .add("tolerance", 0).add("timeout", 10).add("args", "a,,b").add("stdin", "x")
                .add("hosts", Json.array("fz-a", "fz-b")).toString();
    }

    /** The task text with {@code field}'s value replaced by raw JSON text (which may be invalid). */
    private static String replaceField(String task, String field, String rawValue) {
        var o = Json.parse(task).asObject();
        o.set(field, "@@VALUE@@");
        return o.toString().replace("\"@@VALUE@@\"", rawValue);
    }

    private static byte[] randomBytes(Random r, int max) {
        var b = new byte[r.nextInt(max + 1)];
        r.nextBytes(b);
        return b;
    }

    private static <T> T pick(Random r, T[] options) {
        return options[r.nextInt(options.length)];
    }
}
