package ibex.agent;

import static ibex.agent.Harness.pids;
import static ibex.agent.Harness.running;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ibex.core.HostStatus;
import ibex.wire.TaskScript;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Real scripts through {@link Runner}, no server: exit statuses, a run that leaves a daemon, kill
 * and timeout of process trees (grandchildren, TERM traps), adoption after a restart. Every case
 * runs with both ways of starting a wrapper: posix_spawn (what the agent uses where libc has it)
 * and ProcessBuilder with setsid (the fallback for an older libc).
 */
@ParameterizedClass(name = "{0}")
@ValueSource(strings = {"posix_spawn", "ProcessBuilder + setsid"})
class RunnerTest {
    private static final Duration GRACE = Duration.ofMillis(700);

    @Parameter
    String spawnerName;
    private Spawner spawner;

    private Path dir;
    private MetaDir meta;
    private final LinkedBlockingQueue<Runner.Finished> finished = new LinkedBlockingQueue<>();
    private Runner runner;
    private final List<Long> leftovers = new ArrayList<>();

    @BeforeEach
    void setUp() throws IOException {
        dir = Files.createTempDirectory("ibex-runner-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx--x--x"));
        meta = new MetaDir(dir.resolve("meta"));
        spawner = spawnerName.equals("posix_spawn") ? PosixSpawn.load().orElseThrow() : new Spawner.Jdk();
        assertEquals(spawnerName, spawner.toString());
        runner = new Runner(meta, () -> spawner, finished::add, GRACE, InstantSource.system());
    }

    @AfterEach
    void tearDown() throws IOException {
        runner.close();
        Harness.killAll(leftovers);
        try (var paths = Files.walk(dir)) {
            for (var p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private void start(long id, String script, int timeout) throws IOException {
        start(id, script, "", "", timeout);
    }

    private void start(long id, String script, String args, String account, int timeout) throws IOException {
        runner.start(meta.writeScript(new TaskScript(id, script, args, "", account, timeout)), 1);
    }

    private MetaDir.Done await(long id) throws InterruptedException {
        var f = finished.poll(20, TimeUnit.SECONDS);
        if (f == null) {
            fail("task " + id + " did not finish in 20 s");
        }
        assertEquals(id, f.taskId());
        return f.done();
    }

    private String stdout(long id) throws IOException {
        return Files.readString(meta.stdout(id, 1));
    }

    private String stderr(long id) throws IOException {
        return Files.readString(meta.stderr(id, 1));
    }

    private Path file(String name) {
        return dir.resolve(name);
    }

    @Test
    void exitStatuses_becomeSuccessFailedAndTheSignalNote() throws Exception {
        start(1, "#!/bin/sh\necho out; echo err >&2\n", 0);
        assertEquals(new MetaDir.Done(HostStatus.SUCCESS, 0), await(1));
        assertEquals("out\n", stdout(1));
        assertEquals("err\n", stderr(1));
        start(2, "#!/bin/sh\nprintf partial\nexit 3\n", 0);
        assertEquals(new MetaDir.Done(HostStatus.FAILED, 3), await(2));
        assertEquals("ibex: exit status 3\n", stderr(2));
        start(3, "#!/bin/sh\nkill -USR1 $$\n", 0);
        assertEquals(new MetaDir.Done(HostStatus.FAILED, 138), await(3));
        assertEquals("ibex: the script was killed by signal 10\n", stderr(3));
        assertFalse(runner.running(1, 1));
    }

    /** The script gets its stdin, stdout and stderr, and no other descriptor of the agent (its connection, its journal). */
    @Test
    void script_inheritsNoDescriptorOfTheAgent_norABlockedOrIgnoredSignal() throws Exception {
        try (var held = Files.newOutputStream(file("held-open-by-the-agent"))) {
            start(6, "#!/bin/sh\nls /proc/self/fd | tr '\\n' ' '; grep -E '^Sig(Blk|Ign)' /proc/self/status\n", 0);
            assertEquals(new MetaDir.Done(HostStatus.SUCCESS, 0), await(6));
        }
        var out = stdout(6).split("\n");
        assertEquals("0 1 2 3 SigBlk:\t0000000000000000", out[0], "3 is ls's own look at /proc/self/fd");
        // Signals 32 and 33 are glibc's own (thread cancel, setxid), ignored in every child it starts.
        long ignored = Long.parseLong(out[1].substring("SigIgn:\t".length()), 16);
        assertEquals(0, ignored & 0x7fffffffL, "no standard signal ignored: " + out[1]);
    }

    /** A run that ended before its timeout is not "timed out" afterwards: its timer goes with it. */
    @Test
    void runEndedBeforeItsTimeout_isNeverStoppedLater() throws Exception {
        start(5, "#!/bin/sh\nexit 0\n", 1);
        assertEquals(new MetaDir.Done(HostStatus.SUCCESS, 0), await(5));
        Thread.sleep(1500);
        assertEquals(java.util.Optional.empty(), meta.run(5, 1).orElseThrow().stop(), "a timeout fired for a finished run");
    }


    /**
     * Which tasks have a run here (asked at every ack, to keep or remove a task's directory), told
     * apart from their neighbours by id; the runs going listed in task then clock order.
     */
    @Test
    void hasRunOf_tellsEachTaskApart_fromStartToEnd_andRunningKeysAreOrdered() throws Exception {
        var gate = file("gate");
        var script = "#!/bin/sh\nwhile [ ! -e " + gate + " ]; do sleep 0.05; done\n";
        runner.start(meta.writeScript(new TaskScript(7, script, "", "", "", 0)), 2);
        runner.start(meta.writeScript(new TaskScript(5, script, "", "", "", 0)), 9);
        runner.start(meta.writeScript(new TaskScript(7, script, "", "", "", 0)), 1);
        // Starting counts at once, before the processes exist.
        for (long id : new long[] {5, 7}) {
            assertTrue(runner.hasRunOf(id), "task " + id);
        }
        for (long id : new long[] {4, 6, 8}) {
            assertFalse(runner.hasRunOf(id), "task " + id);
        }
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (runner.runningKeys().size() < 3 && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertEquals(List.of(new Runner.Key(5, 9), new Runner.Key(7, 1), new Runner.Key(7, 2)), runner.runningKeys());
        assertFalse(runner.hasRunOf(6));
        Files.createFile(gate);
        for (int i = 0; i < 3; i++) {
            assertEquals(HostStatus.SUCCESS, finished.poll(20, TimeUnit.SECONDS).done().status());
        }
        deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (!runner.runningKeys().isEmpty() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertFalse(runner.hasRunOf(5));
        assertFalse(runner.hasRunOf(7));
    }
    @Test
    void backgroundChildHoldingOutput_runIsDoneWhenTheScriptExits_andTheChildLivesOn() throws Exception {
        var pidFile = file("daemon.pid");
        long began = System.nanoTime();
        start(4, "#!/bin/sh\n(trap '' HUP; sleep 60; echo late) &\necho $! > " + pidFile + "\necho started\n", 0);
        var done = await(4);
        long took = (System.nanoTime() - began) / 1_000_000;
        var daemon = pids(pidFile);
        leftovers.addAll(daemon);
        assertEquals(new MetaDir.Done(HostStatus.SUCCESS, 0), done);
        assertTrue(took < 5000, "done when the script exited, not when its child did: " + took + " ms");
        assertEquals("started\n", stdout(4));
        Thread.sleep(300);
        assertTrue(running(daemon.getFirst()), "the background child is left alone");
    }

    /**
     * A script that starts a child with a grandchild, and a child in a session of its own with a
     * grandchild; each of the five processes writes its pid. With {@code trapTerm} all of them
     * ignore TERM (an ignored signal stays ignored across fork and exec).
     */
    private static String tree(Path pids, boolean trapTerm) {
        return "#!/bin/sh\nP=" + pids + "\n" + (trapTerm ? "trap '' TERM\n" : "")
                + "echo $$ >> \"$P\"\n"
                + "sh -c 'echo $$ >> \"$0\"; sleep 60 & echo $! >> \"$0\"; wait' \"$P\" &\n"
                + "setsid sh -c 'echo $$ >> \"$0\"; sleep 60 & echo $! >> \"$0\"; wait' \"$P\" &\n"
                + "wait\n";
    }

    private List<Long> awaitPids(Path f, int n) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!Files.exists(f) || pids(f).size() < n) {
            if (System.nanoTime() > deadline) {
                fail("the script did not write " + n + " pids");
            }
            Thread.sleep(20);
        }
        var list = pids(f);
        leftovers.addAll(list);
        return list;
    }

    @Test
    void kill_reachesChildrenGrandchildrenAndThoseInANewSession_allPidsGone() throws Exception {
        var pidFile = file("tree.pids");
        start(5, tree(pidFile, false), 0);
        var pids = awaitPids(pidFile, 5);
        pids.forEach(p -> assertTrue(running(p), "pid " + p + " runs before the kill"));
        runner.kill(5, 1);
        assertEquals(new MetaDir.Done(HostStatus.KILLED, 143), await(5), "TERM was enough: the script's status is 128 + 15");
        for (var p : pids) {
            assertFalse(running(p), "pid " + p + " is gone after the kill");
        }
        assertTrue(stderr(5).endsWith("ibex: killed on request\n"), stderr(5));
    }

    @Test
    void kill_ofProcessesThatIgnoreTerm_escalatesToKillAfterTheGrace_allPidsGone() throws Exception {
        var pidFile = file("trap.pids");
        start(6, tree(pidFile, true), 0);
        var pids = awaitPids(pidFile, 5);
        long began = System.nanoTime();
        runner.kill(6, 1);
        assertEquals(new MetaDir.Done(HostStatus.KILLED, -1), await(6), "KILL took the wrapper too: no status written");
        long took = (System.nanoTime() - began) / 1_000_000;
        assertTrue(took >= GRACE.toMillis(), "KILL came after the grace, took " + took + " ms");
        for (var p : pids) {
            assertFalse(running(p), "pid " + p + " is gone after the kill");
        }
    }

    @Test
    void timeout_killsTheWholeTree_andSaysSo() throws Exception {
        var pidFile = file("timeout.pids");
        start(7, tree(pidFile, true), 1);
        var pids = awaitPids(pidFile, 5);
        var done = await(7);
        assertEquals(HostStatus.TIMEOUT, done.status());
        for (var p : pids) {
            assertFalse(running(p), "pid " + p + " is gone after the timeout");
        }
        assertTrue(stderr(7).endsWith("ibex: timed out after 1 s; the script's processes were killed\n"), stderr(7));
    }

    @Test
    void hostileArguments_reachTheScriptVerbatim_andNoShellParsesThem() throws Exception {
        var marker = file("pwned");
        var args = List.of("; touch " + marker, "$(touch " + marker + ")", "`touch " + marker + "`", "a'b\"c", "line\nbreak",
                "  spaced  ", "");
        start(8, "#!/bin/sh\nfor a in \"$@\"; do printf '<%s>' \"$a\"; done\n",
                com.eclipsesource.json.Json.array(args.toArray(String[]::new)).toString(), "", 0);
        assertEquals(HostStatus.SUCCESS, await(8).status());
        var expected = new StringBuilder();
        args.forEach(a -> expected.append('<').append(a).append('>'));
        assertEquals(expected.toString(), stdout(8));
        assertFalse(Files.exists(marker));
    }

    @Test
    void outputFiles_areReadableByTheAgentOnly() throws Exception {
        start(9, "#!/bin/sh\necho secret\n", 0);
        await(9);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(meta.stdout(9, 1))));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(meta.stderr(9, 1))));
    }

    // ---- after a restart ---------------------------------------------------------------------------

    /** What an agent that died leaves: the script, the run's log with what its wrapper (and the agent) wrote. */
    private void journal(long id, String wrapperWrote, String stop) throws IOException {
        meta.writeScript(new TaskScript(id, "#!/bin/sh\n", "", "", "", 0));
        meta.markStarted(id, 1, System.currentTimeMillis(), 0);
        Files.writeString(meta.stderr(id, 1), "");
        if (wrapperWrote != null) {
            Files.writeString(meta.runFile(id, 1), wrapperWrote, StandardOpenOption.APPEND);
        }
        if (stop != null) {
            meta.markStop(id, 1, stop);
        }
    }

    private MetaDir.Done done(long id) throws IOException {
        return meta.run(id, 1).orElseThrow().done().orElseThrow();
    }

    @Test
    void recover_runThatEndedWhileTheAgentWasAway_isFinishedFromItsExitFile() throws Exception {
        journal(10, "run\nexit 0\n", null);
        journal(11, "run\nexit 3\n", null);
        journal(12, "run\nexit 143\n", "kill");
        journal(13, "run\nexit 143\n", "timeout");
        runner.recover();
        assertEquals(new MetaDir.Done(HostStatus.SUCCESS, 0), done(10));
        assertEquals(new MetaDir.Done(HostStatus.FAILED, 3), done(11));
        assertEquals(new MetaDir.Done(HostStatus.KILLED, 143), done(12));
        assertEquals(new MetaDir.Done(HostStatus.TIMEOUT, 143), done(13));
    }

    @Test
    void recover_withNothingToKnow_failsAndSaysWhy() throws Exception {
        journal(14, "run\n", null);  // the wrapper started the script, then vanished without a status
        journal(15, null, null);    // the agent died before the wrapper started
        runner.recover();
        assertEquals(new MetaDir.Done(HostStatus.FAILED, -1), done(14));
        assertTrue(stderr(14).contains("the agent restarted while this script ran"), stderr(14));
        assertEquals(new MetaDir.Done(HostStatus.FAILED, -1), done(15));
        assertTrue(stderr(15).contains("it did not run"), stderr(15));
    }

    /** Starts a run the way a previous agent did, outside this runner: a wrapper of its own; returns its exit. */
    private CompletableFuture<Integer> orphanRun(long id, String script, int timeout) throws IOException {
        var in = meta.writeScript(new TaskScript(id, script, "", "", "", timeout));
        meta.markStarted(id, 1, System.currentTimeMillis(), timeout);
        var cmd = Command.wrapped(Command.direct(meta.script(id), List.of()), meta.runFile(id, 1));
        return spawner.start(cmd, in.stdin(), meta.stdout(id, 1), meta.stderr(id, 1), dir).exit();
    }

    @Test
    void recover_runStillGoing_isAdopted_andItsRealResultRecorded() throws Exception {
        var counter = file("count");
        var p = orphanRun(16, "#!/bin/sh\necho run >> " + counter + "\nsleep 1\necho finished\nexit 4\n", 0);
        Harness.awaitTrue(Duration.ofSeconds(5), "the script to start", () -> Files.exists(counter));
        runner.recover();
        assertTrue(runner.running(16, 1), "adopted");
        assertEquals(new MetaDir.Done(HostStatus.FAILED, 4), await(16));
        assertEquals("finished\n", stdout(16));
        assertEquals(List.of("run"), Files.readAllLines(counter), "never run twice");
        p.get(10, TimeUnit.SECONDS);
    }

    @Test
    void recover_adoptedRun_canBeKilled_andItsTreeIsGone() throws Exception {
        var pidFile = file("adopted.pids");
        var p = orphanRun(17, tree(pidFile, true), 0);
        var pids = awaitPids(pidFile, 5);
        runner.recover();
        runner.kill(17, 1);
        assertEquals(HostStatus.KILLED, await(17).status());
        for (var pid : pids) {
            assertFalse(running(pid), "pid " + pid + " is gone after the kill");
        }
        p.get(10, TimeUnit.SECONDS);
    }

    @Test
    void recover_adoptedRun_stillTimesOutFromItsStartTime() throws Exception {
        var term = file("term");
        var p = orphanRun(18, "#!/bin/sh\ntrap 'date +%s%3N >> " + term + "' TERM\nwhile :; do sleep 60 & wait; done\n", 2);
        Thread.sleep(1500);
        long recovered = System.currentTimeMillis();
        runner.recover();
        assertEquals(HostStatus.TIMEOUT, await(18).status());
        long termAfter = Long.parseLong(Files.readAllLines(term).getFirst()) - recovered;
        assertTrue(termAfter < 1200, "TERM came " + termAfter + " ms after the adoption: 2 s from the start, not from then");
        p.get(10, TimeUnit.SECONDS);
    }
}
