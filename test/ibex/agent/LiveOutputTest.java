package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Output of a running script reaches the API while it runs (issue 4 §1). */
class LiveOutputTest {
    private static Harness h;

    @BeforeAll
    static void start() throws Exception {
        h = new Harness();
        h.agent("live-1", "OutputCap = 4096");
    }

    @AfterAll
    static void stop() {
        h.close();
    }

    @Test
    void scriptPrintingForSeconds_showsItsOutputWhileRunning_thenTheResult() {
        long id = h.task("#!/bin/sh\nfor i in 1 2 3 4 5 6 7 8 9 10 11 12; do echo line $i; echo warn $i >&2; sleep 0.3; done\n",
                "root", 0, "live-1");
        var early = h.await(id, "live-1", Duration.ofSeconds(10), "live output",
                o -> o.getString("stdout", "").contains("line 2\n"));
        assertEquals("running", early.getString("status", ""), early::toString);
        assertTrue(early.getString("stdout", "").startsWith("line 1\nline 2\n"), early::toString);
        assertTrue(early.getString("stderr", "").startsWith("warn 1\n"), early::toString);
        assertTrue(!early.getString("stdout", "").contains("line 12"), "seen before the end: " + early);
        var later = h.await(id, "live-1", Duration.ofSeconds(10), "more live output",
                o -> o.getString("stdout", "").contains("line 8\n"));
        assertTrue(later.getString("stdout", "").startsWith(early.getString("stdout", "")), "live output only grows");
        var end = h.awaitEnd(id, "live-1", Duration.ofSeconds(10));
        assertEquals("success", end.getString("status", ""));
        var all = new StringBuilder();
        for (int i = 1; i <= 12; i++) {
            all.append("line ").append(i).append('\n');
        }
        assertEquals(all.toString(), end.getString("stdout", ""));
    }

    @Test
    void liveOutputPastTheCap_keepsTheHead_andSaysItStopped_thenTheResultHasHeadAndTail() {
        // 100 lines of 100 bytes, then a pause longer than the server's 2 s between live writes:
        // live output shows 4096 bytes and the stop line.
        long id = h.task("#!/bin/sh\ni=0; while [ $i -lt 100 ]; do printf '%099d\\n' $i; i=$((i+1)); done\nsleep 4\necho end\n",
                "root", 0, "live-1");
        var live = h.await(id, "live-1", Duration.ofSeconds(10), "the cap line",
                o -> o.getString("stdout", "").contains("live output stops"));
        assertEquals("running", live.getString("status", ""));
        String text = live.getString("stdout", "");
        assertTrue(text.startsWith(String.format("%099d\n%099d\n", 0, 1)), text);
        assertEquals(4096 + Live.capLine(4096).length(), text.length(), "the head up to the cap, then one line");
        var end = h.awaitEnd(id, "live-1", Duration.ofSeconds(10));
        String out = end.getString("stdout", "");
        assertTrue(out.startsWith(String.format("%099d\n", 0)) && out.endsWith("end\n"), out);
        assertTrue(out.contains("\n... [ibex: " + (10_004 - 4096) + " bytes left out] ...\n"), out);
    }
}
