package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@code bin/ibex agentd} as a process, as on a host: killed with SIGKILL and started again mid
 * script (issue 4 §5), its heap while a script prints 50 MB (§2), a Host it cannot use (§8); and a
 * server that is down while a script ends (§5).
 */
class AgentProcessTest {
    private static String counting(java.nio.file.Path counter, String rest) {
        return "#!/bin/sh\necho run >> " + counter + "\necho started\n" + rest;
    }

    @Test
    void agentKilledWithSigkillMidScript_andStartedAgain_adoptsTheRun_neverRunsItTwice_andDeliversItsResult()
            throws Exception {
        try (var h = new Harness()) {
            var counter = h.dir.resolve("count-1");
            var agent = h.agentProcess("proc-1", "", null);
            long id = h.task(counting(counter, "sleep 3\necho finished\n"), "root", 0, "proc-1");
            h.await(id, "proc-1", Duration.ofSeconds(20), "the script to start",
                    o -> o.getString("stdout", "").contains("started"));
            agent.destroyForcibly();
            assertTrue(agent.waitFor(10, TimeUnit.SECONDS));
            h.agentProcess("proc-1", "", null);
            var end = h.awaitEnd(id, "proc-1", Duration.ofSeconds(20));
            assertEquals("success", end.getString("status", ""), end::toString);
            assertEquals("started\nfinished\n", end.getString("stdout", ""));
            assertEquals("", end.getString("stderr", ""));
            assertEquals(List.of("run"), Files.readAllLines(counter), "the script ran once");
            assertTrue(h.log("proc-1").contains("task " + id + " clock "), h.log("proc-1"));
            assertTrue(h.log("proc-1").contains("still running after the restart as pid"), h.log("proc-1"));
            Harness.awaitTrue(Duration.ofSeconds(5), "the acked run to leave MetaDir",
                    () -> !Files.exists(h.meta("proc-1").resolve(Long.toString(id))));
        }
    }

    @Test
    void scriptEndingWhileTheAgentIsDown_isDeliveredWhenItIsBack_once() throws Exception {
        try (var h = new Harness()) {
            var counter = h.dir.resolve("count-2");
            var agent = h.agentProcess("proc-2", "", null);
            long id = h.task(counting(counter, "sleep 1\necho finished\nexit 7\n"), "root", 0, "proc-2");
            h.await(id, "proc-2", Duration.ofSeconds(20), "the script to start",
                    o -> o.getString("stdout", "").contains("started"));
            agent.destroyForcibly();
            assertTrue(agent.waitFor(10, TimeUnit.SECONDS));
            Thread.sleep(2000);
            assertEquals("running", h.output(id, "proc-2").getString("status", ""), "nobody told the server yet");
            h.agentProcess("proc-2", "", null);
            var end = h.awaitEnd(id, "proc-2", Duration.ofSeconds(20));
            assertEquals("failed", end.getString("status", ""), end::toString);
            assertEquals("started\nfinished\n", end.getString("stdout", ""));
            assertEquals("ibex: exit status 7\n", end.getString("stderr", ""));
            assertEquals(List.of("run"), Files.readAllLines(counter), "the script ran once");
            Harness.awaitTrue(Duration.ofSeconds(5), "the acked run to leave MetaDir",
                    () -> !Files.exists(h.meta("proc-2").resolve(Long.toString(id))));
        }
    }

    @Test
    void scriptEndingWhileTheServerIsDown_isDeliveredWhenItIsBack() throws Exception {
        try (var h = new Harness()) {
            h.agent("proc-4", "");
            long id = h.task("#!/bin/sh\necho started\nsleep 2\necho finished\n", "root", 0, "proc-4");
            h.await(id, "proc-4", Duration.ofSeconds(20), "the script to start",
                    o -> o.getString("stdout", "").contains("started"));
            h.restartServer(Duration.ofSeconds(3));
            var end = h.awaitEnd(id, "proc-4", Duration.ofSeconds(30));
            assertEquals("success", end.getString("status", ""), end::toString);
            assertEquals("started\nfinished\n", end.getString("stdout", ""));
        }
    }

    @Test
    void agentWithA20MiBHeap_deliversAScriptThatPrints50MB() throws Exception {
        try (var h = new Harness()) {
            var agent = h.agentProcess("proc-3", "", "-Xmx20m");
            long id = h.task("#!/bin/sh\ni=0\nwhile [ $i -lt 5 ]; do head -c 10000000 /dev/zero | tr '\\0' z; sleep 0.3; "
                    + "i=$((i+1)); done\necho\necho last\n", "root", 0, "proc-3");
            var end = h.awaitEnd(id, "proc-3", Duration.ofSeconds(60));
            assertEquals("success", end.getString("status", ""), end::toString);
            String out = end.getString("stdout", "");
            assertTrue(out.startsWith("zzz") && out.endsWith("zzz\nlast\n"), "head and tail");
            assertTrue(out.contains("\n... [ibex: " + (50_000_006L - 1024 * 1024) + " bytes left out] ...\n"));
            assertTrue(agent.isAlive(), "the agent lives");
            assertFalse(h.log("proc-3").contains("OutOfMemoryError"), h.log("proc-3"));
        }
    }

    @Test
    void emptyOrUnusableHost_stopsTheAgent_withExitCode1_andSaysWhy() throws Exception {
        try (var h = new Harness()) {
            var empty = h.agentProcess("", "", null);
            assertTrue(empty.waitFor(30, TimeUnit.SECONDS));
            assertEquals(1, empty.exitValue());
            assertTrue(h.log("").contains("[Heartbeat] Host must not be empty"), h.log(""));
            var spaced = h.agentProcess("web 1", "", null);
            assertTrue(spaced.waitFor(30, TimeUnit.SECONDS));
            assertEquals(1, spaced.exitValue());
            assertTrue(h.log("web 1").contains("[Heartbeat] Host is not a usable host name: host 'web 1' has a character"
                    + " that is not allowed in a host name"), h.log("web 1"));
        }
    }
}
