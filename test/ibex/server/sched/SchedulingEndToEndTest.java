package ibex.server.sched;

import static ibex.cluster.Fleet.await;
import static ibex.cluster.Fleet.awaitDone;
import static ibex.cluster.Fleet.awaitHost;
import static ibex.cluster.Fleet.awaitTrue;
import static ibex.cluster.Fleet.create;
import static ibex.cluster.Fleet.get;
import static ibex.cluster.Fleet.hostAction;
import static ibex.cluster.Fleet.status;
import static ibex.cluster.Fleet.taskAction;
import static ibex.cluster.Fleet.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.eclipsesource.json.JsonObject;
import ibex.cluster.Fleet;
import ibex.core.Log;
import ibex.server.Server;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Scheduling end to end: one real server on H2, real agents (one per literal host name, each with
 * its own MetaDir), real scripts. Scripts record their start and end times in a shared file so the
 * tests can check order and concurrency. The server gives a host without an agent 3 s and a silent
 * run 5 s past its timeout; the agent's kill grace is its fixed 5 s.
 */
class SchedulingEndToEndTest {
    private static final Duration LONG = Duration.ofSeconds(20);
    static Fleet fleet;
    static Server server;

    @BeforeAll
    static void start() throws IOException {
        // Backstop 8 s: longer than the agent's 5 s kill grace, so a TERM-trapping script's own
        // timeout report (at timeout + grace) always beats the server's backstop.
        fleet = Fleet.h2("NoAgentGrace = 3\nBackstop = 8");
        server = fleet.server();
    }

    @AfterAll
    static void stop() {
        if (fleet != null) {
            fleet.close();
        }
    }

    /** Appends "start|end nanos host" lines to $1/log, sleeping {@code seconds} between. */
    private static String recording(String seconds) {
        return """
                #!/bin/sh
                h=$(basename "$(dirname "$(dirname "$0")")")
                h=${h#meta-}
                echo "start $(date +%%s%%N) $h" >> "$1/log"
                sleep %s
                echo "end $(date +%%s%%N) $h" >> "$1/log"
                case $h in *fail*) echo "bad host $h" >&2; exit 1;; esac
                echo "done-$h"
                """.formatted(seconds);
    }

    private record Event(boolean start, long nanos, String host) {
    }

    private static List<Event> events(Path logDir) throws IOException {
        var out = new ArrayList<Event>();
        for (var line : Files.readAllLines(logDir.resolve("log"))) {
            var f = line.split(" ");
            out.add(new Event(f[0].equals("start"), Long.parseLong(f[1]), f[2]));
        }
        out.sort(Comparator.comparingLong(Event::nanos));
        return out;
    }

    /** The most scripts that ran at the same moment. */
    private static int maxConcurrency(List<Event> events) {
        int now = 0;
        int max = 0;
        for (var e : events) {
            now += e.start() ? 1 : -1;
            max = Math.max(max, now);
        }
        return max;
    }

    private static Path logDir() throws IOException {
        return Files.createTempDirectory(fleet.dir, "log-");
    }

    private static String unique(String prefix) {
        return prefix + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 20, 1 << 24));
    }

    private void agents(String... hosts) throws IOException {
        for (var h : hosts) {
            fleet.agent(h, server);
        }
        fleet.awaitConnected(hosts);
    }

    private static void assertDone(long id) {
        assertTrue(get(server, id).get("meta").asObject().getBoolean("done", false), "meta.done");
        assertEquals("done", Fleet.state(server, id), "/state");
        assertTrue(Fleet.inDoneIds(server, id), "done-ids lists it");
        assertEquals("", get(server, id).getString("action", null), "no action on a finished task");
    }

    private static void assertNotDone(long id, String state) {
        assertFalse(get(server, id).get("meta").asObject().getBoolean("done", true), "meta.done");
        assertEquals(state, Fleet.state(server, id), "/state");
        assertFalse(Fleet.inDoneIds(server, id), "done-ids does not list it");
    }

    // ---- batch -----------------------------------------------------------------------------------

    @Test
    void batchOne_runsThreeHostsOneAtATime_inCreationOrder() throws IOException {
        var hosts = List.of(unique("b1"), unique("b2"), unique("b3"));
        agents(hosts.toArray(String[]::new));
        var logs = logDir();
        long id = create(server, task(recording("0.4"), hosts.toArray(String[]::new)).set("batch", 1).set("args", logs.toString()));
        awaitDone(server, id, LONG);
        var ev = events(logs);
        assertEquals(6, ev.size(), ev::toString);
        assertEquals(1, maxConcurrency(ev), ev::toString);
        var order = ev.stream().filter(Event::start).map(Event::host).toList();
        assertEquals(hosts, order);
        var t = get(server, id);
        for (var h : hosts) {
            assertEquals("success", status(t, h));
            assertEquals("done-" + h + "\n", Fleet.stdout(server, id, h));
        }
        assertDone(id);
    }

    @Test
    void batchTwo_isASlidingWindow_neverMoreThanTwoAtOnce() throws IOException {
        var hosts = List.of(unique("w1"), unique("w2"), unique("w3"), unique("w4"));
        agents(hosts.toArray(String[]::new));
        var logs = logDir();
        long id = create(server, task(recording("0.6"), hosts.toArray(String[]::new)).set("batch", 2).set("args", logs.toString()));
        awaitDone(server, id, LONG);
        var ev = events(logs);
        assertEquals(8, ev.size(), ev::toString);
        assertEquals(2, maxConcurrency(ev), ev::toString);
        var starts = ev.stream().filter(Event::start).map(Event::host).toList();
        assertEquals(java.util.Set.of(hosts.get(0), hosts.get(1)), java.util.Set.copyOf(starts.subList(0, 2)));
        assertEquals("end", ev.get(2).start() ? "start" : "end", "the third host starts only after one of the first two ended");
        assertDone(id);
    }

    @Test
    void batchZero_runsEveryHostAtOnce() throws IOException {
        var hosts = List.of(unique("z1"), unique("z2"), unique("z3"));
        agents(hosts.toArray(String[]::new));
        var logs = logDir();
        long id = create(server, task(recording("1"), hosts.toArray(String[]::new)).set("args", logs.toString()));
        awaitDone(server, id, LONG);
        var ev = events(logs);
        assertEquals(3, maxConcurrency(ev), ev::toString);
        assertDone(id);
    }

    // ---- tolerance -------------------------------------------------------------------------------

    @Test
    void toleranceZero_aFailingFirstHost_pausesTheTask_andStartAfterIgnoringItResumes() throws IOException {
        var bad = unique("t-fail");
        var ok1 = unique("t-ok1");
        var ok2 = unique("t-ok2");
        agents(bad, ok1, ok2);
        var logs = logDir();
        long id = create(server, task(recording("0.1"), bad, ok1, ok2).set("batch", 1).set("tolerance", 0).set("args", logs.toString()));
        awaitHost(server, id, bad, "failed", LONG);
        awaitTrue("state pause", LONG, () -> "pause".equals(Fleet.state(server, id)));
        Fleet.sleep(600);
        var t = get(server, id);
        assertEquals("waiting", status(t, ok1));
        assertEquals("waiting", status(t, ok2));
        assertEquals("pause", t.getString("action", null));
        assertNotDone(id, "pause");
        assertTrue(Fleet.stderr(server, id, bad).contains("bad host " + bad));

        // Start alone: the failure still exceeds the tolerance, so the task pauses again (the original's rule).
        assertEquals("", taskAction(server, id, "start").getString("err", null));
        awaitTrue("paused again", LONG, () -> "pause".equals(Fleet.state(server, id)));
        Fleet.sleep(600);
        assertEquals("waiting", status(get(server, id), ok1));

        var ignore = hostAction(server, id, bad, "ignore");
        assertEquals("you can click start to run the task", ignore.getString("dat", null), ignore::toString);
        assertEquals("", taskAction(server, id, "start").getString("err", null));
        var done = awaitDone(server, id, LONG);
        assertEquals("ignored", status(done, bad));
        assertEquals("success", status(done, ok1));
        assertEquals("success", status(done, ok2));
        assertEquals(List.of(bad, ok1, ok2), events(logs).stream().filter(Event::start).map(Event::host).toList());
        assertDone(id);
    }

    // ---- pause list ------------------------------------------------------------------------------

    @Test
    void aHostInThePauseList_runs_andTheTaskPausesBehindIt_untilStart() throws IOException {
        var p1 = unique("p1");
        var p2 = unique("p2");
        var p3 = unique("p3");
        agents(p1, p2, p3);
        var logs = logDir();
        long id = create(server, task(recording("0.1"), p1, p2, p3).set("pause", p2).set("args", logs.toString()));
        awaitHost(server, id, p1, "success", LONG);
        awaitHost(server, id, p2, "success", LONG);
        assertEquals("pause", Fleet.state(server, id));
        Fleet.sleep(800);
        assertEquals("waiting", status(get(server, id), p3), "the host behind the pause host waits");
        assertNotDone(id, "pause");
        assertEquals("", taskAction(server, id, "start").getString("err", null));
        var done = awaitDone(server, id, LONG);
        assertEquals("success", status(done, p3));
        assertDone(id);
    }

    // ---- cancel and kill -------------------------------------------------------------------------

    @Test
    void cancel_cancelsWaitingHosts_theRunningOneCarriesOn_andTheTaskFinishes() throws IOException {
        var c1 = unique("c1");
        var c2 = unique("c2");
        var c3 = unique("c3");
        agents(c1, c2, c3);
        var logs = logDir();
        long id = create(server, task(recording("1"), c1, c2, c3).set("batch", 1).set("args", logs.toString()));
        awaitHost(server, id, c1, "running", LONG);
        assertEquals("", taskAction(server, id, "cancel").getString("err", null));
        var t = get(server, id);
        assertEquals("running", status(t, c1));
        assertEquals("cancelled", status(t, c2));
        assertEquals("cancelled", status(t, c3));
        var done = awaitDone(server, id, LONG);
        assertEquals("success", status(done, c1));
        assertEquals("done-" + c1 + "\n", Fleet.stdout(server, id, c1));
        assertEquals(1, events(logs).stream().filter(Event::start).count(), "only the running host ran");
        assertDone(id);
        var again = taskAction(server, id, "start");
        assertEquals("task already finished, no more action can do", again.getString("err", null));
    }

    @Test
    void kill_ofARunningTask_killsTheScriptAndItsGrandchildren() throws IOException {
        var k1 = unique("k1");
        var k2 = unique("k2");
        agents(k1, k2);
        String marker = "300." + ThreadLocalRandom.current().nextInt(10_000_000, 99_999_999);
        try {
            long id = create(server, task("#!/bin/sh\necho begin\nsleep " + marker + " &\nsleep " + marker + " &\nwait\n", k1, k2)
                    .set("batch", 1));
            awaitHost(server, id, k1, "running", LONG);
            awaitTrue("both grandchildren running", LONG, () -> Fleet.withArgument(marker).size() == 2);
            assertEquals("", taskAction(server, id, "kill").getString("err", null));
            assertEquals("cancelled", status(get(server, id), k2));
            var done = awaitDone(server, id, LONG);
            assertEquals("killed", status(done, k1), done::toString);
            assertEquals(List.of(), Fleet.withArgument(marker), "no process of the script is left");
            assertEquals("begin\n", Fleet.stdout(server, id, k1));
            assertDone(id);
        } finally {
            Fleet.killLeftovers(marker);
        }
    }

    @Test
    void hostKill_ofOneRunningHost_killsItAlone() throws IOException {
        var h1 = unique("hk1");
        var h2 = unique("hk2");
        agents(h1, h2);
        String marker = "301." + ThreadLocalRandom.current().nextInt(10_000_000, 99_999_999);
        try {
            long id = create(server, task("#!/bin/sh\nsleep " + marker + "\n", h1, h2));
            awaitTrue("both running", LONG, () -> Fleet.withArgument(marker).size() == 2);
            assertEquals("", hostAction(server, id, h1, "kill").getString("err", null));
            awaitHost(server, id, h1, "killed", LONG);
            assertEquals("running", status(get(server, id), h2));
            assertEquals(1, Fleet.withArgument(marker).size());
            assertEquals("", taskAction(server, id, "kill").getString("err", null));
            awaitDone(server, id, LONG);
        } finally {
            Fleet.killLeftovers(marker);
        }
    }

    // ---- timeouts --------------------------------------------------------------------------------

    @Test
    void timeout_ofAScriptThatTrapsTerm_killsItAfterTheGrace_andReportsTimeout() throws IOException {
        var h = unique("to");
        agents(h);
        String marker = "60." + ThreadLocalRandom.current().nextInt(10_000_000, 99_999_999);
        try {
            long started = System.nanoTime();
            long id = create(server, task("#!/bin/sh\ntrap '' TERM\necho trapped\nsleep " + marker + "\necho never\n", h)
                    .set("timeout", 2));
            awaitTrue("script running", LONG, () -> Fleet.withArgument(marker).size() == 1);
            var done = awaitDone(server, id, LONG);
            double took = (System.nanoTime() - started) / 1e9;
            assertEquals("timeout", status(done, h));
            assertTrue(took >= 6.5, "TERM was trapped, so only the KILL after the 5 s grace ended it; took " + took + " s");
            assertTrue(took <= 11, "timeout 2 s + grace 5 s + a few; took " + took + " s");
            assertEquals(List.of(), Fleet.withArgument(marker), "the trapped process is gone");
            assertEquals("trapped\n", Fleet.stdout(server, id, h));
            assertTrue(Fleet.stderr(server, id, h).contains("timed out after 2 s"), Fleet.stderr(server, id, h));
            assertDone(id);
        } finally {
            Fleet.killLeftovers(marker);
        }
    }

    @Test
    void aRunWhoseAgentVanishes_isMarkedTimeoutByTheServer_afterTimeoutPlusBackstop() throws IOException {
        var h = unique("vanish");
        var member = fleet.agent(h, server);
        fleet.awaitConnected(h);
        String marker = "30." + ThreadLocalRandom.current().nextInt(10_000_000, 99_999_999);
        try {
            long id = create(server, task("#!/bin/sh\nsleep " + marker + "\n", h).set("timeout", 1));
            awaitTrue("script running", LONG, () -> Fleet.withArgument(marker).size() == 1);
            long stopped = System.nanoTime();
            member.stop();
            var done = awaitDone(server, id, LONG);
            double took = (System.nanoTime() - stopped) / 1e9;
            assertEquals("timeout", status(done, h));
            assertTrue(took <= 1 + 8 + 3, "timeout 1 s + backstop 8 s + a tick or two; took " + took + " s");
            assertTrue(Fleet.stderr(server, id, h).contains("marked timeout by the server"), Fleet.stderr(server, id, h));
            assertDone(id);
        } finally {
            Fleet.killLeftovers(marker);
        }
    }

    // ---- redo and ignore -------------------------------------------------------------------------

    @Test
    void redo_ofAFinishedHost_runsItAgain_withNewOutput() throws IOException {
        var r = unique("rd");
        var behind = unique("rd-behind");
        agents(r);
        // The pause list keeps the task open (behind waits), so the finished host can be redone.
        long id = create(server, task("#!/bin/sh\necho \"run $(date +%s%N)\"\n", r, behind).set("pause", r));
        awaitHost(server, id, r, "success", LONG);
        var first = Fleet.stdout(server, id, r);
        assertTrue(first.startsWith("run "), first);
        assertEquals("", hostAction(server, id, r, "redo").getString("err", null));
        var second = await(server, id, "a second run", LONG, t -> "success".equals(status(t, r))
                && !first.equals(Fleet.stdout(server, id, r)));
        assertEquals("waiting", status(second, behind));
        assertNotEquals(first, Fleet.stdout(server, id, r));
        assertTrue(Fleet.stdout(server, id, r).startsWith("run "));
        hostAction(server, id, behind, "ignore");
        awaitDone(server, id, LONG);
        assertDone(id);
    }

    @Test
    void ignore_ofARunningHost_staysIgnored_afterTheScriptFinishes() throws IOException {
        var h = unique("ig");
        agents(h);
        String marker = "1." + ThreadLocalRandom.current().nextInt(10_000_000, 99_999_999);
        long id = create(server, task("#!/bin/sh\nsleep " + marker + "\necho late\n", h));
        awaitTrue("script running", LONG, () -> Fleet.withArgument(marker).size() == 1);
        var reply = hostAction(server, id, h, "ignore");
        assertEquals("", reply.getString("err", null), reply::toString);
        assertEquals("ignored", status(get(server, id), h));
        awaitTrue("script ended", LONG, () -> Fleet.withArgument(marker).isEmpty());
        Fleet.sleep(1000);   // five heartbeats: the agent has reported the result by now
        var t = awaitDone(server, id, LONG);
        assertEquals("ignored", status(t, h));
        assertEquals("", Fleet.stdout(server, id, h), "the late result did not land");
        assertDone(id);
    }

    // ---- hosts without an agent ------------------------------------------------------------------

    @Test
    void aHostWithNoAgent_failsWithinTheGrace_namingIt_andCountsAgainstTheTolerance() throws IOException {
        var ghost = unique("ghost");
        var ok = unique("ok");
        agents(ok);
        long created = System.nanoTime();
        long id = create(server, task("#!/bin/sh\necho hi\n", ghost, ok).set("batch", 1));
        awaitHost(server, id, ghost, "failed", Duration.ofSeconds(10));
        double took = (System.nanoTime() - created) / 1e9;
        assertTrue(took < 10, "took " + took + " s");
        var err = Fleet.stderr(server, id, ghost);
        assertTrue(err.contains("'" + ghost + "'") && err.contains("no agent"), err);
        awaitTrue("paused by the tolerance", LONG, () -> "pause".equals(Fleet.state(server, id)));
        assertEquals("waiting", status(get(server, id), ok));
        assertNotDone(id, "pause");
        taskAction(server, id, "cancel");
        awaitDone(server, id, LONG);
        assertEquals("cancelled", status(get(server, id), ok));
        assertDone(id);
    }

    // ---- exactly once ----------------------------------------------------------------------------

    /** A log sink that keeps a copy of what it passes on to stderr. */
    private static PrintStream tee(ByteArrayOutputStream captured) {
        return new PrintStream(new OutputStream() {
            @Override
            public void write(int b) {
                synchronized (captured) {
                    captured.write(b);
                }
                System.err.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                synchronized (captured) {
                    captured.write(b, off, len);
                }
                System.err.write(b, off, len);
            }
        }, true, StandardCharsets.UTF_8);
    }

    @Test
    void aSecondAgentClaimingTheSameHost_isRefused_andTheTaskRunsOnce() throws IOException {
        var h = unique("dup");
        var captured = new ByteArrayOutputStream();
        Log.configure(Log.Level.INFO, tee(captured));
        try {
            var first = fleet.agent(h, server);
            fleet.awaitConnected(h);
            var second = fleet.agent(h, fleet.dir.resolve("meta-copy-" + h), server);
            awaitTrue("the second agent refused", LONG, () -> captured.toString(StandardCharsets.UTF_8).contains("refused this agent"));
            var once = fleet.dir.resolve("once-" + h);
            long id = create(server, task("#!/bin/sh\necho ran >> " + once + "\necho ok\n", h));
            var done = awaitDone(server, id, LONG);
            assertEquals("success", status(done, h));
            Fleet.sleep(1000);
            assertEquals(List.of("ran"), Files.readAllLines(once), "the script ran exactly once");
            assertFalse(Files.exists(second.metaDir().resolve(Long.toString(id))), "the refused agent never saw the task");
            assertTrue(Files.exists(first.metaDir()));
            var lines = captured.toString(StandardCharsets.UTF_8).lines().toList();
            assertTrue(lines.stream().anyMatch(l -> l.contains(" rpc refused agent") && l.contains("'" + h + "'")
                    && l.contains("127.0.0.1:")), () -> "the server logs the refusal, naming the host and the holder: " + lines);
            assertTrue(lines.stream().anyMatch(l -> l.contains(" agent ") && l.contains("refused this agent")
                    && l.contains("'" + h + "'")), () -> "the refused agent logs it, naming the host: " + lines);
        } finally {
            Log.configure(Log.Level.INFO, System.err);
        }
    }
}
