package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Output is capped at head and tail, with one line counting what was left out (issue 4 §2). */
class OutputCapTest {
    @Test
    void fiveMegabytesAndNonUtf8_areCappedToHeadAndTail_andTheBadBytesReplaced() throws Exception {
        try (var h = new Harness()) {
            h.agent("cap-1", "");
            long id = h.task("#!/bin/sh\nprintf 'BEGIN\\n'\nhead -c 5000000 /dev/zero | tr '\\0' y\nprintf '\\nFINISH\\n'\n"
                    + "printf 'bad \\377\\376 bytes, good \\303\\251\\n' >&2\n", "root", 0, "cap-1");
            var end = h.awaitEnd(id, "cap-1", Duration.ofSeconds(30));
            assertEquals("success", end.getString("status", ""));
            int half = 512 * 1024;
            long size = 6 + 5_000_000 + 8;
            String expected = "BEGIN\n" + "y".repeat(half - 6) + "\n... [ibex: " + (size - 2L * half) + " bytes left out] ...\n"
                    + "y".repeat(half - 8) + "\nFINISH\n";
            String stdout = end.getString("stdout", "");
            assertEquals(expected.length(), stdout.length());
            assertEquals(expected, stdout, "the database holds the full cap: head and tail of 512 KiB each");
            assertEquals("bad \uFFFD\uFFFD bytes, good é\n", end.getString("stderr", ""));
        }
    }
}
