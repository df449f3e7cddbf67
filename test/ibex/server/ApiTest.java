package ibex.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonArray;
import com.eclipsesource.json.JsonObject;
import java.io.IOException;
import java.time.OffsetDateTime;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.AfterParameterizedClassInvocation;
import org.junit.jupiter.params.BeforeParameterizedClassInvocation;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every route of reference §1 against a real server with two real agents (web-1, web-2), once per
 * store. Tasks on "ghost-*" hosts have no agent; they are created paused so they stay waiting.
 */
@ParameterizedClass
@MethodSource("ibex.server.TestServer#backends")
class ApiTest {
    @Parameter
    TestServer.Backend backend;

    static TestServer s;

    @BeforeParameterizedClassInvocation
    static void start(TestServer.Backend backend) throws IOException {
        s = TestServer.start(backend);
        s.agent("web-1");
        s.agent("web-2");
    }

    @AfterParameterizedClassInvocation
    static void stop() {
        if (s != null) {
            s.close();
            s = null;
        }
    }

    // ---- base routes -----------------------------------------------------------------------------

    @Test
    void baseRoutes_answerPlainText_withoutCredentials() {
        var ping = s.send("GET", "/ping", null, null);
        assertEquals(200, ping.status());
        assertEquals("pong", ping.body());
        assertEquals("text/plain; charset=utf-8", ping.header("Content-Type"));
        var pid = s.send("GET", "/pid", null, null);
        assertEquals(200, pid.status());
        assertEquals(Long.toString(ProcessHandle.current().pid()), pid.body());
        var addr = s.send("GET", "/addr", null, null);
        assertEquals(200, addr.status());
        assertTrue(addr.body().matches("127\\.0\\.0\\.1:[0-9]{1,5}"), addr.body());
        assertNotEquals("127.0.0.1:" + s.server.httpAddress().getPort(), addr.body(), "the caller's address, not the server's");
        var version = s.send("GET", "/version", null, null);
        assertEquals(200, version.status());
        assertEquals(TestServer.VERSION, version.body());
    }

    // ---- auth ------------------------------------------------------------------------------------

    @Test
    void everyV1Route_withoutOrWithWrongCredentials_is401WithTheBasicChallenge_andDoesNothing() {
        long id = s.create(TestServer.task("ghost-auth"));
        String t = "/ibex/v1/task/" + id;
        String[][] routes = {
                {"POST", "/ibex/v1/tasks"}, {"GET", "/ibex/v1/tasks"}, {"GET", "/ibex/v1/tasks/done-ids?ids=1"},
                {"GET", t}, {"PUT", t + "/action"}, {"GET", t + "/stdout"}, {"GET", t + "/stderr"},
                {"GET", t + "/state"}, {"GET", t + "/result"}, {"PUT", t + "/host/ghost-auth/action"},
                {"GET", t + "/host/ghost-auth/output"}, {"GET", t + "/host/ghost-auth/stdout"},
                {"GET", t + "/host/ghost-auth/stderr"}, {"GET", t + "/stdout.txt"}, {"GET", t + "/stderr.txt"},
                {"GET", t + "/stdout.json"}, {"GET", t + "/stderr.json"}};
        String[] bad = {null, TestServer.basic("ibex", "wrong"), TestServer.basic("nobody", "secret"),
                TestServer.basic("ibex", ""), "Basic !!not-base64!!", "Bearer secret", "Basic " + java.util.Base64
                .getEncoder().encodeToString("ibexsecret".getBytes())};
        for (var r : routes) {
            String body = r[0].equals("GET") ? null
                    : r[1].endsWith("/tasks") ? TestServer.task("ghost-auth").toString() : "{\"action\":\"cancel\"}";
            for (var auth : bad) {
                var reply = s.send(r[0], r[1], body, auth);
                String what = r[0] + " " + r[1] + " with " + auth;
                assertEquals(401, reply.status(), what);
                assertEquals("Basic realm=\"Authorization Required\"", reply.header("WWW-Authenticate"), what);
            }
        }
        var task = s.task(id);
        assertEquals("pause", task.getString("action", null), "the unauthenticated cancel did nothing");
        assertEquals("waiting", TestServer.statusOf(task, "ghost-auth"));
        assertEquals(1, s.get("/ibex/v1/tasks?query=ghost-auth").dat().asObject().getLong("total", -1),
                "the unauthenticated create made nothing");
    }

    // ---- create ----------------------------------------------------------------------------------

    @Test
    void create_answersTheId_andTheTaskReadsBackWithEveryField() {
        var body = TestServer.task(" ghost-c2", "ghost-c1", "#ghost-x", "", "ghost-c2 ", "   ")
                .set("title", "deploy FH: old-host").set("batch", 2).set("tolerance", 1).set("timeout", 0)
                .set("pause", "ghost-c1 ， ghost-c9").set("args", "a，b,,c").set("stdin", "{\"tag\":\"v\"}")
                .set("creator", "carol");
        var reply = s.post("/ibex/v1/tasks", body.toString());
        assertEquals(200, reply.status());
        assertEquals("application/json; charset=utf-8", reply.header("Content-Type"));
        long id = reply.dat().asLong();
        assertEquals("{\"dat\":" + id + ",\"err\":\"\"}", reply.body());

        var dat = s.task(id);
        assertEquals(List.of("meta", "hosts", "action"), dat.names());
        var meta = dat.get("meta").asObject();
        assertEquals(List.of("id", "title", "account", "batch", "tolerance", "timeout", "pause", "script", "args",
                "stdin", "creator", "created", "done"), meta.names());
        var created = meta.getString("created", "");
        OffsetDateTime.parse(created);   // RFC 3339 with an offset, Go's time.Time form
        assertTrue(created.matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d([+-]\\d\\d:\\d\\d|Z)"), created);
        var expected = new JsonObject().add("id", id).add("title", "deploy FH: ghost-c2")
                .add("account", System.getProperty("user.name")).add("batch", 2).add("tolerance", 1).add("timeout", 30)
                .add("pause", "ghost-c1,ghost-c9").add("script", "#!/bin/sh\necho hi\n").add("args", "a,b,,c")
                .add("stdin", "{\"tag\":\"v\"}").add("creator", "carol").add("created", created).add("done", false);
        assertEquals(expected, meta);
        assertEquals(hosts(id, "ghost-c2", "waiting", "ghost-c1", "waiting"), dat.get("hosts"));
        assertEquals("pause", dat.getString("action", null));
    }

    @Test
    void create_acceptsTheLongestTimeout_andRejectsLongerOnesWithHttp200() {
        long id = s.create(TestServer.task("ghost-t").set("timeout", 432000));
        assertEquals(432000, s.task(id).get("meta").asObject().getInt("timeout", -1));
        assertRejected(TestServer.task("ghost-t").set("timeout", 432001), "arg(timeout) longer than five days");
    }

    @Test
    void create_withNegativeNumbersOrDangerousText_isRejectedWithHttp200() {
        assertRejected(TestServer.task("ghost-n").set("batch", -1), "arg(batch) should be nonnegative");
        assertRejected(TestServer.task("ghost-n").set("tolerance", -1), "arg(tolerance) should be nonnegative");
        assertRejected(TestServer.task("ghost-n").set("timeout", -5), "arg(timeout) should be nonnegative");
        for (var bad : List.of("<b>", "a > b", "x & y", "it's", "say \"hi\"", "http://x", "../etc")) {
            assertRejected(TestServer.task("ghost-n").set("title", bad), "arg(title) is dangerous");
        }
        assertRejected(TestServer.task("ghost-n").set("pause", "<script>"), "arg(pause) is dangerous");
    }

    @Test
    void create_withNoUsableHost_is400ArgHostsEmpty() {
        for (var hosts : List.of(new JsonArray(), new JsonArray().add("").add("  ").add("#web-1").add(" #x"))) {
            var r = s.post("/ibex/v1/tasks", TestServer.task().set("hosts", hosts).toString());
            assertEquals(400, r.status(), r::toString);
            assertEquals("{\"err\":\"arg(hosts) empty\"}", r.body());
        }
    }

    @Test
    void create_withBadJsonOrWrongTypesOrMissingFields_is400JsonBodyInvalid() {
        List<String> bodies = List.of("", "{", "not json", "[]", "42", "null",
                TestServer.task("ghost-j").set("batch", "two").toString(),
                TestServer.task("ghost-j").set("batch", 1.5).toString(),
                TestServer.task("ghost-j").set("timeout", true).toString(),
                TestServer.task("ghost-j").set("title", 7).toString(),
                TestServer.task("ghost-j").set("hosts", "ghost-j").toString(),
                TestServer.task("ghost-j").set("hosts", new JsonArray().add(1)).toString(),
                without(TestServer.task("ghost-j"), "hosts"), without(TestServer.task("ghost-j"), "title"),
                without(TestServer.task("ghost-j"), "script"), without(TestServer.task("ghost-j"), "creator"),
                without(TestServer.task("ghost-j"), "action"), without(TestServer.task("ghost-j"), "account"),
                TestServer.task("ghost-j").set("title", "").toString());
        for (var body : bodies) {
            var r = s.post("/ibex/v1/tasks", body);
            assertEquals(400, r.status(), () -> body + " → " + r);
            assertEquals(List.of("err"), r.json().names(), r::toString);
            assertTrue(r.json().getString("err", "").startsWith("json body invalid"), () -> body + " → " + r);
        }
        assertEquals(0, s.get("/ibex/v1/tasks?query=ghost-j").dat().asObject().getLong("total", -1));
    }

    @Test
    void bodyOver4MiB_is413WithAJsonError() {
        var big = TestServer.task("ghost-big").set("script", "#" + "x".repeat(4 * 1024 * 1024)).toString();
        var r = s.post("/ibex/v1/tasks", big);
        assertEquals(413, r.status(), () -> "status " + r.status());
        assertEquals(List.of("err"), r.json().names());
        assertEquals("request body larger than the limit of 4194304 bytes", r.json().getString("err", ""));
        assertEquals(0, s.get("/ibex/v1/tasks?query=ghost-big").dat().asObject().getLong("total", -1));
    }

    // ---- ids and unknown tasks -------------------------------------------------------------------

    @Test
    void nonIntegerTaskId_is400CannotConvert() {
        for (var path : List.of("", "/stdout", "/stderr", "/state", "/result", "/host/web-1/output",
                "/host/web-1/stdout", "/host/web-1/stderr", "/stdout.txt", "/stdout.json", "/stderr.json")) {
            var r = s.get("/ibex/v1/task/abc" + path);
            assertEquals(400, r.status(), path);
            assertEquals("{\"err\":\"cannot convert abc to int64\"}", r.body(), path);
        }
        var put = s.put("/ibex/v1/task/1.5/action", "{\"action\":\"start\"}");
        assertEquals(400, put.status());
        assertEquals("{\"err\":\"cannot convert 1.5 to int64\"}", put.body());
        var hostPut = s.put("/ibex/v1/task/x/host/web-1/action", "{\"action\":\"redo\"}");
        assertEquals(400, hostPut.status());
        assertEquals("{\"err\":\"cannot convert x to int64\"}", hostPut.body());
    }

    @Test
    void unknownTask_is404NoSuchTaskMeta() {
        long unknown = s.create(TestServer.task("ghost-u")) + 1_000_000;
        String t = "/ibex/v1/task/" + unknown;
        for (var path : List.of("", "/stdout", "/stderr", "/host/web-1/output", "/host/web-1/stdout",
                "/host/web-1/stderr", "/stdout.json", "/stderr.json")) {
            var r = s.get(t + path);
            assertEquals(404, r.status(), path);
            assertEquals("{\"err\":\"no such task meta\"}", r.body(), path);
        }
        for (var path : List.of("/action", "/host/web-1/action")) {
            var r = s.put(t + path, "{\"action\":\"start\"}");
            assertEquals(404, r.status(), path);
            assertEquals("{\"err\":\"no such task meta\"}", r.body(), path);
        }
        for (var path : List.of("/stdout.txt", "/stderr.txt")) {
            var r = s.get(t + path);
            assertEquals(404, r.status(), path);
            assertEquals("no such task", r.body(), path);
            assertEquals("text/plain; charset=utf-8", r.header("Content-Type"));
        }
    }

    @Test
    void hostOutput_ofAHostNotInTheTask_is404WithAJsonError() {
        long id = s.create(TestServer.task("ghost-h"));
        for (var which : List.of("output", "stdout", "stderr")) {
            var r = s.get("/ibex/v1/task/" + id + "/host/nope/" + which);
            assertEquals(404, r.status(), which);
            assertEquals(new JsonObject().add("err", "task " + id + ": host 'nope' is not part of this task"), r.json(), which);
        }
    }

    // ---- list, done-ids, state, result -----------------------------------------------------------

    @Test
    void list_filtersByQueryAndCreator_pages_andCountsTheTotal() {
        String me = "lister-" + backend.name().toLowerCase();
        long a = s.create(TestServer.task("ghost-l").set("title", "restart nginx").set("creator", me));
        long b = s.create(TestServer.task("ghost-l").set("title", "restart mysql").set("creator", me));
        long c = s.create(TestServer.task("ghost-l").set("title", "clean disk").set("creator", me));
        String q = "/ibex/v1/tasks?creator=" + me;

        var all = s.get(q).dat().asObject();
        assertEquals(List.of("total", "list"), all.names());
        assertEquals(3, all.getLong("total", -1));
        assertEquals(List.of(c, b, a), ids(all));
        var first = all.get("list").asArray().get(2).asObject();
        assertEquals(s.task(a).get("meta"), first, "list items are the same meta objects as GET /task/:id");

        assertEquals(List.of(b, a), ids(s.get(q + "&query=restart").dat().asObject()));
        assertEquals(List.of(a), ids(s.get(q + "&query=restart+-mysql").dat().asObject()));
        assertEquals(List.of(a), ids(s.get(q + "&query=restart%20-mysql").dat().asObject()));
        assertEquals(List.of(c), ids(s.get(q + "&query=-restart").dat().asObject()));
        var page2 = s.get(q + "&limit=2&p=2").dat().asObject();
        assertEquals(3, page2.getLong("total", -1));
        assertEquals(List.of(a), ids(page2));
        assertEquals(List.of(c, b), ids(s.get(q + "&limit=2").dat().asObject()));
        assertEquals(List.of(c, b, a), ids(s.get(q + "&days=1").dat().asObject()));
        assertEquals(0, s.get("/ibex/v1/tasks?creator=" + me + "x").dat().asObject().getLong("total", -1));
        assertEquals(new JsonObject().add("total", 0).add("list", new JsonArray()),
                s.get("/ibex/v1/tasks?creator=nobody-at-all").dat());
    }

    @Test
    void list_withANonIntegerLimitPageOrDays_is400() {
        for (var param : List.of("limit=x", "p=1.5", "days=seven", "limit=99999999999")) {
            var r = s.get("/ibex/v1/tasks?" + param);
            assertEquals(400, r.status(), param);
            String v = param.substring(param.indexOf('=') + 1);
            assertEquals(new JsonObject().add("err", "cannot convert [" + v + "] to int"), r.json(), param);
        }
    }

    @Test
    void doneIds_listsFinishedAndUnknownIds_andSkipsGarbage() {
        long open = s.create(TestServer.task("ghost-d"));
        long finished = s.create(TestServer.task("ghost-d"));
        assertEquals("{\"err\":\"\"}", s.put("/ibex/v1/task/" + finished + "/action", "{\"action\":\"cancel\"}").body());
        s.awaitDone(finished);
        long unknown = finished + 1_000_000;
        var r = s.get("/ibex/v1/tasks/done-ids?ids=" + open + "," + finished + ",x," + unknown);
        assertEquals(200, r.status());
        assertEquals(new JsonObject().add("list", new JsonArray().add(finished).add(unknown)), r.dat());
        for (var q : List.of("", "?ids=", "?ids=a,b", "?ids=,")) {
            var empty = s.get("/ibex/v1/tasks/done-ids" + q);
            assertEquals(200, empty.status(), q);
            assertEquals("{\"err\":\"arg(ids) empty\"}", empty.body(), q);
        }
    }

    // ---- task actions ----------------------------------------------------------------------------

    @Test
    void taskAction_storesTheAction_andAnswersErrWithoutDat() {
        long id = s.create(TestServer.task("ghost-a1", "ghost-a2"));
        String path = "/ibex/v1/task/" + id;
        assertEquals(new JsonObject().add("dat", "pause").add("err", ""), s.get(path + "/state").json());
        var bogus = s.put(path + "/action", "{\"action\":\"explode\"}");
        assertEquals(200, bogus.status());
        assertEquals("{\"err\":\"action invalid\"}", bogus.body());
        assertEquals("{\"err\":\"action invalid\"}", s.put(path + "/action", "{\"action\":7}").body());
        assertEquals("{\"err\":\"action invalid\"}", s.put(path + "/action", "{}").body());
        var bad = s.put(path + "/action", "{action:");
        assertEquals(400, bad.status());
        assertTrue(bad.json().getString("err", "").startsWith("json body invalid"), bad::toString);
        assertEquals("pause", s.task(id).getString("action", null), "refused actions change nothing");

        var cancel = s.put(path + "/action", "{\"action\":\"cancel\"}");
        assertEquals(200, cancel.status());
        assertEquals("{\"err\":\"\"}", cancel.body());
        var done = s.awaitDone(id);
        assertEquals("", done.getString("action", null));
        assertEquals(hosts(id, "ghost-a1", "cancelled", "ghost-a2", "cancelled"), done.get("hosts"));
        assertEquals(new JsonObject().add("dat", "done").add("err", ""), s.get(path + "/state").json());
        assertEquals(new JsonObject().add("cancelled", new JsonArray().add("ghost-a1").add("ghost-a2")), s.get(path + "/result").dat());

        for (var a : List.of("start", "pause", "cancel", "kill", "explode")) {
            var late = s.put(path + "/action", "{\"action\":\"" + a + "\"}");
            assertEquals(200, late.status(), a);
            assertEquals("{\"err\":\"task already finished, no more action can do\"}", late.body(), a);
        }
        for (var a : List.of("ignore", "kill", "redo", "explode")) {
            var late = s.put(path + "/host/ghost-a1/action", "{\"action\":\"" + a + "\"}");
            assertEquals(200, late.status(), a);
            assertEquals("{\"err\":\"task already finished, no more taskAction can do\"}", late.body(), a);
        }
        assertEquals("{\"err\":\"task already finished, no more taskAction can do\"}",
                s.put(path + "/host/ghost-a1/action", "not json").body(), "checked before the body is read");
    }

    @Test
    void start_runsThePausedTask_andKill_stopsItsRunningScript() {
        long id = s.create(TestServer.task("web-1").set("script", "#!/bin/sh\necho started\nexec sleep 60\n"));
        String path = "/ibex/v1/task/" + id;
        assertEquals("{\"err\":\"\"}", s.put(path + "/action", "{\"action\":\"start\"}").body());
        s.awaitHost(id, "web-1", "running");
        assertEquals("start", s.get(path + "/state").dat().asString());
        // Running means dispatched; kill once the script has printed (live output), or the kill
        // may land before its first line.
        long until = System.nanoTime() + 20_000_000_000L;
        while (!s.get(path + "/host/web-1/stdout").dat().asString().contains("started") && System.nanoTime() < until) {
            TestServer.sleep(50);
        }
        assertEquals("{\"err\":\"\"}", s.put(path + "/action", "{\"action\":\"kill\"}").body());
        var done = s.awaitDone(id);
        assertEquals("killed", TestServer.statusOf(done, "web-1"));
        assertEquals("started\n", s.get(path + "/host/web-1/stdout").dat().asString());
        assertTrue(s.get(path + "/host/web-1/stderr").dat().asString().endsWith("ibex: killed on request\n"),
                () -> s.get(path + "/host/web-1/stderr").body());
    }

    // ---- host actions ----------------------------------------------------------------------------

    @Test
    void hostIgnore_onAPausedTask_saysClickStart_andUnknownActionsDoNothing() {
        long id = s.create(TestServer.task("ghost-i1", "ghost-i2"));
        String path = "/ibex/v1/task/" + id + "/host/";
        var ignore = s.put(path + "ghost-i1/action", "{\"action\":\"ignore\"}");
        assertEquals(200, ignore.status());
        assertEquals("{\"dat\":\"you can click start to run the task\",\"err\":\"\"}", ignore.body());
        assertEquals("{\"err\":\"current status cannot kill\"}", s.put(path + "ghost-i2/action", "{\"action\":\"kill\"}").body());
        assertEquals("{\"err\":\"\"}", s.put(path + "ghost-i2/action", "{\"action\":\"explode\"}").body());
        assertEquals("{\"err\":\"no such host\"}", s.put(path + "nope/action", "{\"action\":\"ignore\"}").body());
        assertEquals("{\"err\":\"no such host\"}", s.put(path + "nope/action", "{\"action\":\"redo\"}").body());
        var bad = s.put(path + "ghost-i2/action", "[");
        assertEquals(400, bad.status());
        assertTrue(bad.json().getString("err", "").startsWith("json body invalid"), bad::toString);
        assertEquals(hosts(id, "ghost-i1", "ignored", "ghost-i2", "waiting"), s.task(id).get("hosts"));

        assertEquals("{\"err\":\"\"}", s.put("/ibex/v1/task/" + id + "/action", "{\"action\":\"cancel\"}").body());
        s.awaitDone(id);
        assertEquals(new JsonObject().add("ignored", new JsonArray().add("ghost-i1")).add("cancelled", new JsonArray().add("ghost-i2")),
                s.get("/ibex/v1/task/" + id + "/result").dat());
    }

    @Test
    void hostIgnore_onARunningTask_answersErrOnly() {
        long id = s.create(TestServer.task("web-2", "ghost-r").set("action", "start").set("batch", 1)
                .set("script", "#!/bin/sh\nexec sleep 60\n"));
        s.awaitHost(id, "web-2", "running");
        assertEquals("{\"err\":\"\"}", s.put("/ibex/v1/task/" + id + "/host/ghost-r/action", "{\"action\":\"ignore\"}").body());
        var kill = s.put("/ibex/v1/task/" + id + "/host/web-2/action", "{\"action\":\"kill\"}");
        assertEquals("{\"err\":\"\"}", kill.body());
        var done = s.awaitDone(id);
        assertEquals(hosts(id, "web-2", "killed", "ghost-r", "ignored"), done.get("hosts"));
    }

    @Test
    void hostRedo_runsTheScriptAgain_withNewOutput() {
        // web-1 runs, the task pauses behind it (pause list), web-2 waits: the task stays open for a redo.
        long id = s.create(TestServer.task("web-1", "web-2").set("action", "start").set("pause", "web-1")
                .set("script", "#!/bin/sh\ndate +%s%N\n"));
        s.awaitHost(id, "web-1", "success");
        String path = "/ibex/v1/task/" + id + "/host/web-1/";
        String first = s.get(path + "stdout").dat().asString();
        assertTrue(first.matches("\\d{19}\n"), first);
        assertEquals("pause", s.task(id).getString("action", null));

        assertEquals("{\"err\":\"\"}", s.put(path + "action", "{\"action\":\"redo\"}").body());
        var again = s.await(id, "a second run of web-1", t -> "success".equals(TestServer.statusOf(t, "web-1"))
                && !s.get(path + "stdout").dat().asString().equals(first));
        assertEquals("waiting", TestServer.statusOf(again, "web-2"));
        String second = s.get(path + "stdout").dat().asString();
        assertTrue(second.matches("\\d{19}\n"), second);
        assertTrue(Long.parseLong(second.strip()) > Long.parseLong(first.strip()), first + " then " + second);

        assertEquals("{\"err\":\"\"}", s.put("/ibex/v1/task/" + id + "/action", "{\"action\":\"start\"}").body());
        var done = s.awaitDone(id);
        assertEquals(hosts(id, "web-1", "success", "web-2", "success"), done.get("hosts"));
    }

    @Test
    void hostKill_stopsTheWholeProcessTree_ofTheScript() throws IOException {
        var pidFile = java.nio.file.Files.createTempFile(s.dir, "child-", ".pid");
        long id = s.create(TestServer.task("web-1").set("action", "start")
                .set("script", "#!/bin/sh\nsleep 300 &\necho $! > \"$1\"\nwait\n").set("args", pidFile.toString()));
        s.awaitHost(id, "web-1", "running");
        long child = awaitPid(pidFile);
        assertTrue(ProcessHandle.of(child).map(ProcessHandle::isAlive).orElse(false), "the background sleep runs");
        assertEquals("{\"err\":\"\"}", s.put("/ibex/v1/task/" + id + "/host/web-1/action", "{\"action\":\"kill\"}").body());
        var done = s.awaitDone(id);
        assertEquals("killed", TestServer.statusOf(done, "web-1"));
        assertTrue(ProcessHandle.of(child).map(h -> !h.isAlive()).orElse(true), "the script's background child " + child + " died too");
    }

    @Test
    void scriptPastItsTimeout_isKilled_andMarkedTimeout() {
        long id = s.create(TestServer.task("web-2").set("action", "start").set("timeout", 1)
                .set("script", "#!/bin/sh\necho before\nexec sleep 60\n"));
        var done = s.awaitDone(id);
        assertEquals("timeout", TestServer.statusOf(done, "web-2"));
        String t = "/ibex/v1/task/" + id + "/host/web-2/";
        assertEquals("before\n", s.get(t + "stdout").dat().asString());
        assertTrue(s.get(t + "stderr").dat().asString().contains("ibex: timed out after 1 s"), () -> s.get(t + "stderr").body());
    }

    @Test
    void create_withAnActionOtherThanStartOrPause_isRejectedWithHttp200() {
        for (var a : List.of("cancel", "kill", "go")) {
            assertRejected(TestServer.task("ghost-x").set("action", a), "arg(action) should be start or pause, got '" + a + "'");
        }
    }

    private static long awaitPid(java.nio.file.Path file) throws IOException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            var text = java.nio.file.Files.readString(file).strip();
            if (!text.isEmpty()) {
                return Long.parseLong(text);
            }
            TestServer.sleep(50);
        }
        throw new AssertionError("the script never wrote its child's pid to " + file);
    }

    // ---- output routes ---------------------------------------------------------------------------

    @Test
    void finishedTask_servesItsOutputInEveryShape() {
        String script = "#!/bin/sh\nprintf 'args:'; printf ' [%s]' \"$@\"; echo\ncat\necho \"to err $1\" >&2\n";
        long id = s.create(TestServer.task("web-1", "web-2").set("action", "start").set("script", script)
                .set("args", "one,,two words").set("stdin", "{\"tag\":\"ünï\"}\n"));
        var done = s.awaitDone(id);
        String t = "/ibex/v1/task/" + id;
        String out = "args: [one] [two words]\n{\"tag\":\"ünï\"}\n";
        String err = "to err one\n";
        assertEquals(hosts(id, "web-1", "success", "web-2", "success"), done.get("hosts"));
        assertEquals("", done.getString("action", null));
        assertTrue(done.get("meta").asObject().getBoolean("done", false));

        assertEquals(new JsonArray().add(host(id, "web-1", "success", out, "")).add(host(id, "web-2", "success", out, "")),
                s.get(t + "/stdout").dat());
        assertEquals(new JsonArray().add(host(id, "web-1", "success", "", err)).add(host(id, "web-2", "success", "", err)),
                s.get(t + "/stderr").dat());
        assertEquals(Json.value(out), s.get(t + "/host/web-1/stdout").dat());
        assertEquals(Json.value(err), s.get(t + "/host/web-2/stderr").dat());
        assertEquals(host(id, "web-2", "success", out, err), s.get(t + "/host/web-2/output").dat());

        var txt = s.get(t + "/stdout.txt");
        assertEquals(200, txt.status());
        assertEquals("text/plain; charset=utf-8", txt.header("Content-Type"));
        assertEquals("web-1:\n" + out + "\n\nweb-2:\n" + out, txt.body());
        assertEquals("web-1:\n" + err + "\n\nweb-2:\n" + err, s.get(t + "/stderr.txt").body());

        assertEquals(new JsonArray().add(new JsonObject().add("host", "web-1").add("stdout", out))
                .add(new JsonObject().add("host", "web-2").add("stdout", out)), s.get(t + "/stdout.json").dat());
        assertEquals(new JsonArray().add(new JsonObject().add("host", "web-2").add("stderr", err)),
                s.get(t + "/stderr.json?host=web-2").dat());
        var missing = s.get(t + "/stdout.json?host=nope");
        assertEquals(200, missing.status());
        assertEquals(new JsonObject().add("err", "task: " + id + ", host(nope) not eixsts"), missing.json());

        assertEquals(new JsonObject().add("success", new JsonArray().add("web-1").add("web-2")), s.get(t + "/result").dat());
        assertEquals("done", s.get(t + "/state").dat().asString());
    }

    @Test
    void nearly1MiBOfMultiByteOutput_travelsFromScriptToApiIntact() {
        String text = "é€😀\n".repeat(100_000);   // 1,000,000 bytes: 2-, 3- and 4-byte sequences
        long id = s.create(TestServer.task("web-1").set("action", "start").set("script", "#!/bin/sh\ncat\ncat >&2 </dev/null\n")
                .set("stdin", text));
        var done = s.awaitDone(id);
        assertEquals("success", TestServer.statusOf(done, "web-1"));
        String got = s.get("/ibex/v1/task/" + id + "/host/web-1/stdout").dat().asString();
        assertEquals(text.length(), got.length());
        assertEquals(text, got);
    }

    @Test
    void failingScript_isFailed_withTheExitStatusInStderr() {
        long id = s.create(TestServer.task("web-2").set("action", "start")
                .set("script", "#!/bin/sh\necho partial\necho oops >&2\nexit 3\n"));
        var done = s.awaitDone(id);
        assertEquals("failed", TestServer.statusOf(done, "web-2"));
        String t = "/ibex/v1/task/" + id + "/host/web-2/";
        assertEquals("partial\n", s.get(t + "stdout").dat().asString());
        String stderr = s.get(t + "stderr").dat().asString();
        assertTrue(stderr.startsWith("oops\n") && stderr.endsWith("ibex: exit status 3\n"), stderr);
        assertEquals(new JsonObject().add("failed", new JsonArray().add("web-2")), s.get("/ibex/v1/task/" + id + "/result").dat());
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static void assertRejected(JsonObject body, String err) {
        var r = s.post("/ibex/v1/tasks", body.toString());
        assertEquals(200, r.status(), () -> body + " → " + r);
        assertEquals(new JsonObject().add("err", err), r.json(), () -> body + " → " + r);
    }

    private static String without(JsonObject o, String name) {
        o.remove(name);
        return o.toString();
    }

    private static JsonObject host(long id, String host, String status, String stdout, String stderr) {
        return new JsonObject().add("id", id).add("host", host).add("status", status).add("stdout", stdout).add("stderr", stderr);
    }

    /** The hosts array of GET /task/:id: pairs of host and status, output fields "". */
    private static JsonArray hosts(long id, String... hostStatus) {
        var a = new JsonArray();
        for (int i = 0; i < hostStatus.length; i += 2) {
            a.add(host(id, hostStatus[i], hostStatus[i + 1], "", ""));
        }
        return a;
    }

    private static List<Long> ids(JsonObject page) {
        return page.get("list").asArray().values().stream().map(v -> v.asObject().getLong("id", -1)).toList();
    }
}
