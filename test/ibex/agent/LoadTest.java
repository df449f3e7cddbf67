package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FileOutputStream;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;

/**
 * Fifty tasks at once on one agent, none waiting for another; each result reported once; MetaDir
 * tidy after (issue 4 §7).
 */
class LoadTest {
    @Test
    void fiftyTasksAtOnce_runSideBySide_eachResultReportedOnce_andLeaveNoTaskInMetaDir() throws Exception {
        try (var h = new Harness(); var pool = Executors.newFixedThreadPool(8)) {
            h.agent("load-1", "");
            var marks = Files.createDirectories(h.dir.resolve("marks"));
            var go = h.dir.resolve("go");
            new ProcessBuilder("mkfifo", go.toString()).start().waitFor();
            // Each script marks that it started, then blocks on the fifo (no polling, no CPU) until
            // the test opens it: all 50 marks at once prove all 50 scripts run side by side.
            var futures = new ArrayList<Future<Long>>();
            for (int i = 0; i < 50; i++) {
                String script = "#!/bin/sh\ntouch " + marks + "/" + i + "\ncat " + go + " >/dev/null\necho task " + i + "\n";
                futures.add(pool.submit(() -> h.task(script, "root", 120, "load-1")));
            }
            var ids = new ArrayList<Long>();
            for (var f : futures) {
                ids.add(f.get());
            }
            Harness.awaitTrue(Duration.ofSeconds(60), "all 50 scripts to be running", () -> count(marks) == 50);
            try (var release = new FileOutputStream(go.toFile())) {
                Thread.sleep(2000);   // scripts that marked but have not opened the fifo yet still get in
            }
            for (int i = 0; i < 50; i++) {
                var end = h.awaitEnd(ids.get(i), "load-1", Duration.ofSeconds(30));
                assertEquals("success", end.getString("status", ""), end::toString);
                assertEquals("task " + i + "\n", end.getString("stdout", ""));
            }
            // Fifty ends within a second or two, each bringing a heartbeat: a result is not sent
            // again while the reply to the heartbeat that carried it is on its way.
            Harness.awaitTrue(Duration.ofSeconds(10), "50 stored results to be counted", () -> h.metric("ibex_results_stored_total") == 50);
            assertEquals(50, h.metric("ibex_reports_total"), "reports received for 50 results");
            var meta = h.meta("load-1");
            Harness.awaitTrue(Duration.ofSeconds(10), "MetaDir to hold no task directory", () -> taskDirs(meta).isEmpty());
            assertTrue(Files.exists(meta.resolve("agent-id")));
        }
    }

    private static long count(java.nio.file.Path dir) {
        try (var s = Files.list(dir)) {
            return s.count();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static List<String> taskDirs(java.nio.file.Path meta) {
        try (var s = Files.list(meta)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.chars().allMatch(Character::isDigit)).toList();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
