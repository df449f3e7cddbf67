package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
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
    private static final String GROUP_PREFIX = "ibex-test-";

    @Test
    void aProcessThatOutlivesKill_endsTheRunKillfailed_namingItsPid() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")) && Files.isWritable(FREEZER.resolve("cgroup.procs")),
                "needs root and a cgroup v1 freezer at " + FREEZER);
        removeGroupsLeftBefore();
        var group = FREEZER.resolve(GROUP_PREFIX + ProcessHandle.current().pid());
        Files.createDirectories(group);
        try (var h = new Harness()) {
            h.agent("kf-1", "KillGrace = 300");
            var pidFile = h.dir.resolve("pid");
            long id = h.task("#!/bin/sh\nsleep 600 &\necho $! > " + pidFile + "\nwait\n", "root", 0, "kf-1");
            Harness.awaitTrue(Duration.ofSeconds(20), "the script's child to start",
                    () -> Files.exists(pidFile) && !read(pidFile).isEmpty());
            long stuck = Long.parseLong(read(pidFile));
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
            remove(group);
        }
    }

    /** Groups a test run killed midway left behind, frozen with their processes. */
    private static void removeGroupsLeftBefore() throws IOException {
        try (var groups = Files.list(FREEZER)) {
            for (var g : groups.filter(g -> g.getFileName().toString().startsWith(GROUP_PREFIX)).toList()) {
                remove(g);
            }
        }
    }

    /**
     * KILL to every process in the group, then thaw it (a frozen process acts on its KILL only
     * then), wait until it is empty, remove it. Quiet: a failure here must not hide the test's.
     */
    private static void remove(Path group) {
        try {
            for (var pid : Files.readAllLines(group.resolve("cgroup.procs"))) {
                ProcessHandle.of(Long.parseLong(pid.strip())).ifPresent(ProcessHandle::destroyForcibly);
            }
            Files.writeString(group.resolve("freezer.state"), "THAWED");
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (!read(group.resolve("cgroup.procs")).isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            Files.delete(group);
        } catch (IOException | RuntimeException e) {
            System.err.println("KillFailedTest: cannot remove " + group + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static String read(Path f) {
        try {
            return Files.readString(f).strip();
        } catch (IOException e) {
            return "";
        }
    }
}
