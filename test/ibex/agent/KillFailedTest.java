package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A kill that a process of the script outlives: a real process frozen by the cgroup v1 freezer
 * (as a stuck NFS read or a frozen container leaves one: state D, SIGKILL pending but not acted
 * on) survives TERM and KILL. The run ends {@code killfailed}, naming the pid, once the grace is
 * over; it is not reported killed while a process of it lives. Needs root and a cgroup v1 freezer
 * hierarchy (this machine and CI have one at /sys/fs/cgroup/freezer); skipped without them.
 */
class KillFailedTest {
    private static final Path FREEZER = Path.of("/sys/fs/cgroup/freezer");

    @Test
    void aProcessThatOutlivesKill_endsTheRunKillfailed_namingItsPid() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")) && Files.isWritable(FREEZER.resolve("cgroup.procs")),
                "needs root and a cgroup v1 freezer at " + FREEZER);
        var group = FREEZER.resolve("ibex-test-" + ProcessHandle.current().pid());
        Files.createDirectories(group);
        long stuck = -1;
        try (var h = new Harness()) {
            h.agent("kf-1", "KillGrace = 300");
            var pidFile = h.dir.resolve("pid");
            long id = h.task("#!/bin/sh\nsleep 600 &\necho $! > " + pidFile + "\nwait\n", "root", 0, "kf-1");
            Harness.awaitTrue(Duration.ofSeconds(20), "the script's child to start",
                    () -> Files.exists(pidFile) && !read(pidFile).isEmpty());
            stuck = Long.parseLong(read(pidFile));
            Files.writeString(group.resolve("cgroup.procs"), Long.toString(stuck));
            Files.writeString(group.resolve("freezer.state"), "FROZEN");
            Harness.awaitTrue(Duration.ofSeconds(10), "the child to freeze",
                    () -> read(group.resolve("freezer.state")).equals("FROZEN"));
            h.killHost(id, "kf-1");
            var end = h.awaitEnd(id, "kf-1", Duration.ofSeconds(30));
            assertEquals("killfailed", end.getString("status", ""), end::toString);
            assertTrue(end.getString("stderr", "").contains("ibex: kill asked; pids " + stuck + " outlived KILL"), end::toString);
            assertTrue(Harness.running(stuck), "the frozen process is still there");
        } finally {
            // Thawed, the KILL it holds takes it; then the group is empty and can go.
            Files.writeString(group.resolve("freezer.state"), "THAWED");
            long pid = stuck;
            Harness.awaitTrue(Duration.ofSeconds(10), "the thawed process to die", () -> pid == -1 || !Harness.running(pid));
            Files.delete(group);
        }
    }

    private static String read(Path f) {
        try {
            return Files.readString(f).strip();
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
