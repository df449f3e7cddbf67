package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A kill that reaches the agent for a run it never started: the task started and was killed while
 * the agent was away, so the agent's first list says KILL and it never got the script. The run
 * ends with a note and its script never runs; the agent stays connected and serves the next task.
 * (It used to fail to write the run's log in a task directory that did not exist, drop its
 * connection over it, and get the same list again on every reconnect.)
 */
class KillBeforeStartTest {

    @Test
    void aKillForARunTheAgentNeverStarted_endsTheRunWithANote_andTheAgentGoesOnServing() throws Exception {
        try (var h = new Harness()) {
            var marker = h.dir.resolve("ran");
            long id = h.task("#!/bin/sh\ntouch " + marker + "\n", "root", 0, "kbs-1");
            h.killHost(id, "kbs-1");
            h.agent("kbs-1", "");
            var row = h.awaitEnd(id, "kbs-1", Duration.ofSeconds(30));
            assertEquals("failed", row.getString("status", ""), row::toString);
            assertTrue(row.getString("stderr", "").contains("ibex: killed before it started on this host"), row::toString);
            assertFalse(Files.exists(marker), "the killed run's script ran");

            long next = h.task("#!/bin/sh\necho next\n", "root", 0, "kbs-1");
            var ok = h.awaitEnd(next, "kbs-1", Duration.ofSeconds(30));
            assertEquals("success", ok.getString("status", ""), ok::toString);
            assertEquals("next\n", ok.getString("stdout", ""));
        }
    }
}
