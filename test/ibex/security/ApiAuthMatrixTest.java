package ibex.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.security.SecureServer.Reply;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every /ibex/v1 route, with every method it answers, refuses a request without valid basic-auth
 * credentials: 401, the Basic challenge, a JSON err, and no effect. The base routes stay open.
 */
class ApiAuthMatrixTest {
    static SecureServer s;
    static long id;

    @BeforeAll
    static void start() throws IOException {
        s = SecureServer.start(SecureServer.Options.token());
        id = s.create(SecureServer.task("ghost-auth").set("title", "authmatrix"));
    }

    @AfterAll
    static void stop() {
        if (s != null) {
            s.close();
        }
    }

    /** Method and path of every authenticated route; HEAD is answered by every GET route. */
    static List<String[]> routes() {
        String t = "/ibex/v1/task/" + id;
        String[][] base = {
                {"POST", "/ibex/v1/tasks"}, {"GET", "/ibex/v1/tasks"}, {"GET", "/ibex/v1/tasks/done-ids?ids=" + id},
                {"GET", t}, {"PUT", t + "/action"}, {"GET", t + "/stdout"}, {"GET", t + "/stderr"},
                {"GET", t + "/state"}, {"GET", t + "/result"}, {"GET", t + "/stdout.txt"}, {"GET", t + "/stderr.txt"},
                {"GET", t + "/stdout.json"}, {"GET", t + "/stderr.json"}, {"PUT", t + "/host/ghost-auth/action"},
                {"GET", t + "/host/ghost-auth/output"}, {"GET", t + "/host/ghost-auth/stdout"},
                {"GET", t + "/host/ghost-auth/stderr"}, {"GET", "/ibex/v1/audit"}, {"GET", "/ibex/v1/audit?task=" + id + "&limit=5"},
                {"DELETE", "/ibex/v1/agent/ghost-auth/pin"}, {"GET", "/metrics"}};
        var out = new ArrayList<String[]>(List.of(base));
        for (var r : base) {
            if (r[0].equals("GET")) {
                out.add(new String[] {"HEAD", r[1]});
            }
        }
        return out;
    }

    static List<String> badCredentials() {
        var b64 = Base64.getEncoder();
        return java.util.Arrays.asList(
                null,
                SecureServer.basic(SecureServer.USER, "wrong"),
                SecureServer.basic(SecureServer.USER, ""),
                SecureServer.basic(SecureServer.USER, SecureServer.PASSWORD.substring(0, SecureServer.PASSWORD.length() - 1)),
                SecureServer.basic(SecureServer.USER, SecureServer.PASSWORD + "x"),
                SecureServer.basic(SecureServer.USER, SecureServer.AUDITOR_PASSWORD),   // another account's password
                SecureServer.basic("IBEX", SecureServer.PASSWORD),
                SecureServer.basic("nobody", SecureServer.PASSWORD),
                SecureServer.basic("", ""),
                "Basic " + b64.encodeToString((SecureServer.USER + SecureServer.PASSWORD).getBytes(StandardCharsets.UTF_8)),
                "Basic " + b64.encodeToString((SecureServer.USER + ":" + SecureServer.PASSWORD + "\u0000").getBytes(StandardCharsets.UTF_8)),
                "Basic " + b64.encodeToString((":" + SecureServer.PASSWORD).getBytes(StandardCharsets.UTF_8)),
                "Basic", "Basic ", "Basic !!not-base64!!", "Basic =====", "Basic Og==",
                "Bearer " + SecureServer.PASSWORD, "Digest username=\"ibex\"", SecureServer.PASSWORD,
                SecureServer.AUTH.substring(6),   // the credentials without the scheme
                "Basic " + SecureServer.AUTH.substring(6, SecureServer.AUTH.length() - 2));   // truncated
    }

    @Test
    void everyV1Route_withMissingWrongUnknownOrMalformedCredentials_is401_withTheChallenge_andAJsonErr() {
        int checked = 0;
        for (var r : routes()) {
            String body = r[0].equals("POST") ? SecureServer.task("ghost-auth").set("title", "authmatrix").toString()
                    : r[0].equals("PUT") ? "{\"action\":\"cancel\"}" : null;
            for (var auth : badCredentials()) {
                var reply = s.send(r[0], r[1], body, auth);
                String what = r[0] + " " + r[1] + " with " + auth;
                assertEquals(401, reply.status(), () -> what + " → " + reply);
                assertEquals("Basic realm=\"Authorization Required\"", reply.header("WWW-Authenticate"), what);
                if (!r[0].equals("HEAD")) {
                    assertEquals("application/json; charset=utf-8", reply.header("Content-Type"), what);
                    assertEquals(List.of("err"), reply.json().names(), what);
                    assertTrue(reply.err().startsWith("unauthorized"), what + " → " + reply);
                    assertTrue(!reply.body().contains(SecureServer.PASSWORD), what);
                }
                checked++;
            }
        }
        assertTrue(checked > 700, "checked " + checked);
        // nothing happened: the task is still paused and waiting, no task was created, nothing audited
        var task = s.task(id);
        assertEquals("pause", task.getString("action", null));
        assertEquals("waiting", SecureServer.statusOf(task, "ghost-auth"));
        assertEquals(1, s.count("authmatrix"));
        var audit = s.get("/ibex/v1/audit?task=" + id).dat().asArray();
        assertEquals(1, audit.size(), audit::toString);
        assertEquals("create", audit.get(0).asObject().getString("action", ""));
    }

    @Test
    void everyV1Route_withValidCredentials_isNot401_forEitherAccount() {
        for (var auth : List.of(SecureServer.AUTH, SecureServer.basic(SecureServer.AUDITOR, SecureServer.AUDITOR_PASSWORD),
                "basic " + SecureServer.AUTH.substring(6), "Basic   " + SecureServer.AUTH.substring(6))) {
            for (var r : routes()) {
                if (!r[0].equals("GET") && !r[0].equals("HEAD")) {
                    continue;   // no side effects here; the writes are covered by ApiTest and AuditTest
                }
                Reply reply = s.send(r[0], r[1], null, auth);
                assertEquals(200, reply.status(), () -> r[0] + " " + r[1] + " with " + auth + " → " + reply);
                assertNull(reply.header("WWW-Authenticate"));
            }
        }
    }

    @Test
    void baseRoutes_stayOpen_withoutCredentials() {
        for (var path : List.of("/ping", "/pid", "/addr", "/version")) {
            var r = s.send("GET", path, null, null);
            assertEquals(200, r.status(), path);
            assertNull(r.header("WWW-Authenticate"), path);
        }
        assertEquals("pong", s.send("GET", "/ping", null, SecureServer.basic("nobody", "x")).body(), "wrong credentials do not matter there");
    }

    @Test
    void unknownPaths_andMethods_areJsonErrors_notOpenDoors() {
        var notFound = s.send("GET", "/ibex/v1/nothing-here", null, null);
        assertEquals(404, notFound.status(), notFound::toString);
        assertTrue(notFound.err().startsWith("no route"), notFound::toString);
        for (var m : List.of("PATCH", "DELETE", "OPTIONS", "TRACE", "PROPFIND")) {
            var r = s.send(m, "/ibex/v1/tasks", "{}", null);
            assertTrue(r.status() == 405 || r.status() == 401, () -> m + " → " + r);
            assertTrue(!r.err().isEmpty(), () -> m + " → " + r);
        }
        assertEquals(1, s.count("authmatrix"));
    }

    @Test
    void metrics_withMetricsAuthFalse_isOpen_whileTheApiStillAsksForAnAccount() throws IOException {
        try (var open = SecureServer.start(SecureServer.Options.token().withHttp("MetricsAuth = false"))) {
            var m = open.send("GET", "/metrics", null, null);
            assertEquals(200, m.status(), m::toString);
            assertTrue(m.body().contains("ibex_heartbeats_total"), m::body);
            assertEquals(401, open.send("GET", "/ibex/v1/tasks", null, null).status());
        }
        assertEquals(401, s.send("GET", "/metrics", null, null).status(), "by default /metrics asks for an account");
    }
}
