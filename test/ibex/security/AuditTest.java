package ibex.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.eclipsesource.json.JsonArray;
import com.eclipsesource.json.JsonValue;
import java.io.IOException;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every task creation and every action, with who (basic-auth user), when, task, hosts and the
 * script's SHA-256, read back through GET /ibex/v1/audit; refused requests leave no entry.
 */
class AuditTest {
    static SecureServer s;
    static final String AUDITOR = SecureServer.basic(SecureServer.AUDITOR, SecureServer.AUDITOR_PASSWORD);

    @BeforeAll
    static void start() throws IOException {
        s = SecureServer.start(SecureServer.Options.token());
        s.agent("aud-1");
    }

    @AfterAll
    static void stop() {
        if (s != null) {
            s.close();
        }
    }

    @Test
    void creationAndEveryTaskHostAndPinAction_isAudited_withUserTaskHostsAndScriptSha256() {
        Instant before = Instant.now().minusSeconds(1);
        String script = "#!/bin/sh\n# audited \u00e9\nexec sleep 60\n";
        long id = s.create(SecureServer.task("aud-1", "aud-ghost").set("batch", 1).set("script", script), AUDITOR);
        String t = "/ibex/v1/task/" + id;
        ok(s.put(t + "/action", "{\"action\":\"start\"}"));
        s.awaitHost(id, "aud-1", "running");
        ok(s.put(t + "/action", "{\"action\":\"pause\"}"));
        ok(s.put(t + "/host/aud-1/action", "{\"action\":\"kill\"}"));
        s.awaitHost(id, "aud-1", "killed");
        ok(s.put(t + "/host/aud-1/action", "{\"action\":\"redo\"}"));
        s.awaitHost(id, "aud-1", "running");
        ok(s.put(t + "/host/aud-ghost/action", "{\"action\":\"ignore\"}"));
        ok(s.send("PUT", t + "/action", "{\"action\":\"kill\"}", AUDITOR));
        s.awaitDone(id);

        long other = s.create(SecureServer.task("aud-ghost-2"));
        ok(s.put("/ibex/v1/task/" + other + "/action", "{\"action\":\"cancel\"}"));
        var release = s.send("DELETE", "/ibex/v1/agent/aud-1/pin", null, SecureServer.AUTH);
        assertEquals(200, release.status(), release::toString);
        Instant after = Instant.now().plusSeconds(1);

        var entries = s.get("/ibex/v1/audit?task=" + id).dat().asArray();
        assertEquals(List.of("kill", "host ignore", "host redo", "host kill", "pause", "start", "create"), actions(entries), entries::toString);
        var create = entries.get(6).asObject();
        assertEquals(List.of("seq", "at", "user", "remote", "action", "task_id", "hosts", "script_sha256", "detail"), create.names());
        assertEquals(SecureServer.AUDITOR, create.getString("user", ""));
        assertEquals(id, create.getLong("task_id", -1));
        assertEquals("aud-1,aud-ghost", create.getString("hosts", ""));
        assertEquals(SecureServer.sha256(script), create.getString("script_sha256", ""));
        assertEquals("127.0.0.1", create.getString("remote", ""));
        SecureServer.assertContains(create.getString("detail", ""), "creator tester");

        List<String> users = entries.values().stream().map(v -> v.asObject().getString("user", "")).toList();
        assertEquals(List.of("auditor", "ibex", "ibex", "ibex", "ibex", "ibex", "auditor"), users);
        List<String> hosts = entries.values().stream().map(v -> v.asObject().getString("hosts", "?")).toList();
        assertEquals(List.of("", "aud-ghost", "aud-1", "aud-1", "", "", "aud-1,aud-ghost"), hosts);
        long lastSeq = Long.MAX_VALUE;
        Instant lastAt = Instant.MAX;
        for (var v : entries) {
            var e = v.asObject();
            assertEquals(id, e.getLong("task_id", -1));
            long seq = e.getLong("seq", -1);
            assertTrue(seq < lastSeq, "newest first: " + entries);
            lastSeq = seq;
            var at = Instant.parse(e.getString("at", ""));
            assertTrue(!at.isBefore(before) && !at.isAfter(after) && !at.isAfter(lastAt), e::toString);
            lastAt = at;
            if (!e.getString("action", "").equals("create")) {
                assertEquals("", e.getString("script_sha256", "?"), "only a creation carries the script's hash");
            }
        }

        var newest = s.get("/ibex/v1/audit?limit=2").dat().asArray();
        assertEquals(2, newest.size());
        var pin = newest.get(0).asObject();
        assertEquals("forget pin", pin.getString("action", ""));
        assertEquals("ibex", pin.getString("user", ""));
        assertEquals("aud-1", pin.getString("hosts", ""));
        assertEquals(0, pin.getLong("task_id", -1));
        assertEquals("released", pin.getString("detail", ""));
        var cancel = newest.get(1).asObject();
        assertEquals("cancel", cancel.getString("action", ""));
        assertEquals(other, cancel.getLong("task_id", -1));
        assertEquals(SecureServer.sha256("#!/bin/sh\necho hi\n"),
                s.get("/ibex/v1/audit?task=" + other).dat().asArray().get(1).asObject().getString("script_sha256", ""));
    }

    @Test
    void refusedAndUnauthenticatedRequests_leaveNoEntry() {
        long id = s.create(SecureServer.task("aud-ghost-3"));
        String t = "/ibex/v1/task/" + id;
        assertEquals("action invalid", s.put(t + "/action", "{\"action\":\"explode\"}").err());
        assertEquals(401, s.send("PUT", t + "/action", "{\"action\":\"cancel\"}", null).status());
        assertEquals(401, s.send("PUT", t + "/action", "{\"action\":\"cancel\"}", SecureServer.basic("ibex", "guess")).status());
        assertEquals(401, s.send("DELETE", "/ibex/v1/agent/aud-ghost-3/pin", null, null).status());
        var refused = s.post("/ibex/v1/tasks", SecureServer.task("aud-ghost-3").set("timeout", 999_999).toString());
        assertEquals("arg(timeout) longer than five days", refused.err());
        var entries = s.get("/ibex/v1/audit?task=" + id).dat().asArray();
        assertEquals(List.of("create"), actions(entries), entries::toString);
        assertEquals("tester", s.task(id).get("meta").asObject().getString("creator", ""), "the creator field is the client's claim");
        assertEquals("ibex", entries.get(0).asObject().getString("user", ""), "the audit names the authenticated user");
    }

    @Test
    void auditQueryParameters_areChecked() {
        var bad = s.get("/ibex/v1/audit?task=abc");
        assertEquals(400, bad.status(), bad::toString);
        assertEquals("cannot convert [abc] to int", bad.err());
        assertEquals(400, s.get("/ibex/v1/audit?limit=1e3").status());
        assertEquals(new JsonArray(), s.get("/ibex/v1/audit?task=987654321").dat());
        assertEquals(1, s.get("/ibex/v1/audit?limit=0").dat().asArray().size(), "a limit below 1 means 1");
    }

    private static void ok(SecureServer.Reply r) {
        assertEquals(200, r.status(), r::toString);
        var err = r.json().getString("err", null);
        assertEquals("", err, r::toString);
    }

    private static List<String> actions(JsonArray entries) {
        return entries.values().stream().map(JsonValue::asObject).map(o -> o.getString("action", "")).toList();
    }
}
