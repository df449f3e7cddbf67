package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.core.HostStatus;
import ibex.wire.TaskScript;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MetaDirTest {
    @TempDir
    Path dir;
    private MetaDir meta;

    @BeforeEach
    void setUp() throws IOException {
        meta = new MetaDir(dir.resolve("meta"));
    }

    private void script(long id) throws IOException {
        meta.writeScript(new TaskScript(id, "#!/bin/sh\n", "a,,b", "in", "root", 30));
    }

    private void age(long id, Duration by) throws IOException {
        var old = FileTime.from(Instant.now().minus(by));
        try (Stream<Path> files = Files.list(meta.taskDir(id))) {
            for (var f : files.toList()) {
                Files.setLastModifiedTime(f, old);
            }
        }
        Files.setLastModifiedTime(meta.taskDir(id), old);
    }

    /**
     * A process forked while a script is open for writing holds that fd until it execs, and exec
     * of the script then fails with ETXTBSY, "Text file busy" (seen in a P5 run: exit 126). So a
     * script is not written while the agent starts a process (Command.start holds the read lock).
     */
    @Test
    void writeScript_waitsWhileAProcessIsBeingStarted() throws Exception {
        var failure = new java.util.concurrent.atomic.AtomicReference<Throwable>();
        Thread writer;
        Command.EXEC_LOCK.readLock().lock();
        try {
            writer = Thread.ofPlatform().start(() -> {
                try {
                    script(1);
                } catch (IOException | RuntimeException e) {
                    failure.set(e);
                }
            });
            while (writer.isAlive() && writer.getState() != Thread.State.WAITING) {
                Thread.onSpinWait();
            }
            assertFalse(Files.exists(meta.taskDir(1).resolve("script")), "the script was written during a process start");
        } finally {
            Command.EXEC_LOCK.readLock().unlock();
        }
        writer.join();
        assertEquals(null, failure.get());
        assertTrue(Files.exists(meta.script(1)));
    }

    @Test
    void journal_roundTrips_andIsPrivate() throws IOException {
        var in = meta.writeScript(new TaskScript(1, "#!/bin/sh\n", "a,,b", "in", "root", 30));
        assertEquals(new MetaDir.Inputs(1, "a,,b", "root", 30, meta.taskDir(1).resolve("stdin")), in);
        assertEquals("in", Files.readString(in.stdin()));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(meta.taskDir(1))));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(meta.script(1))));
        assertEquals(Optional.empty(), meta.run(1, 7));
        meta.markStarted(1, 7, 1234, 30);
        assertTrue(meta.started(1, 7));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(meta.runFile(1, 7))));
        assertEquals(new MetaDir.Run(1234, 30, false, OptionalInt.empty(), Optional.empty(), Optional.empty()),
                meta.run(1, 7).orElseThrow());
        wrapperWrites(1, 7, "run\n");
        assertEquals(new MetaDir.Run(1234, 30, true, OptionalInt.empty(), Optional.empty(), Optional.empty()),
                meta.run(1, 7).orElseThrow(), "the wrapper began, no status yet");
        wrapperWrites(1, 7, "exit 143\n");
        meta.markStop(1, 7, "kill");
        meta.markDone(1, 7, new MetaDir.Done(HostStatus.KILLED, 143));
        assertEquals(new MetaDir.Run(1234, 30, true, OptionalInt.of(143), Optional.of("kill"),
                Optional.of(new MetaDir.Done(HostStatus.KILLED, 143))), meta.run(1, 7).orElseThrow());
        assertEquals(List.of(new MetaDir.RunFile(1, 7)), meta.runs());
    }

    private void wrapperWrites(long id, long clock, String text) throws IOException {
        Files.writeString(meta.runFile(id, clock), text, StandardOpenOption.APPEND);
    }

    /** A line cut short, as a host losing power may leave one, is not believed; the last whole line of a kind counts. */
    @Test
    void runLog_tornOrUnknownLines_areIgnored() throws IOException {
        script(11);
        meta.markStarted(11, 1, 5, 0);
        wrapperWrites(11, 1, "run\nexit 1\nexit\ndone succ\nstop sideways\nsomething new\nexit 2\n");
        var run = meta.run(11, 1).orElseThrow();
        assertEquals(OptionalInt.of(2), run.exit());
        assertEquals(Optional.empty(), run.done());
        assertEquals(Optional.empty(), run.stop());
        wrapperWrites(11, 1, "done success 0\ndone fai");
        assertEquals(Optional.of(new MetaDir.Done(HostStatus.SUCCESS, 0)), meta.run(11, 1).orElseThrow().done());
    }

    /** Args and an account may hold anything; a task without stdin reads /dev/null and has no stdin file. */
    @Test
    void inputs_areKeptAsGiven_andNoStdinMeansDevNull() throws IOException {
        var in = meta.writeScript(new TaskScript(8, "#!/bin/sh\n", "x\n5 1 3\n,,ü", "", "a b\nc", 0));
        assertEquals(new MetaDir.Inputs(8, "x\n5 1 3\n,,ü", "a b\nc", 0, Path.of("/dev/null")), in);
        assertFalse(Files.exists(meta.taskDir(8).resolve("stdin")));
    }

    @Test
    void markStarted_twiceForOneRun_isRefused_andTheFirstLogStays() throws IOException {
        script(10);
        meta.markStarted(10, 1, 99, 0);
        assertThrows(FileAlreadyExistsException.class, () -> meta.markStarted(10, 1, 100, 0));
        assertEquals(99, meta.run(10, 1).orElseThrow().startedAt());
    }

    @Test
    void forget_removesTheRun_andTheTaskWithItsLastRun() throws IOException {
        script(2);
        for (long clock : new long[] {1, 2}) {
            meta.markStarted(2, clock, 0, 0);
            wrapperWrites(2, clock, "run\nexit 0\n");
            Files.writeString(meta.stdout(2, clock), "out");
            meta.markDone(2, clock, new MetaDir.Done(HostStatus.SUCCESS, 0));
        }
        meta.forget(2, 1, false);
        try (var files = Files.list(meta.taskDir(2))) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().startsWith("1.")), "run 1's files are gone");
        }
        meta.forget(2, 2, false);
        assertFalse(Files.exists(meta.taskDir(2)));
        meta.forget(2, 2, false);   // a second ack finds nothing
    }

    /** The list that acks a task's last run may start its redo: the script must still be there. */
    @Test
    void forget_ofATaskStillAssigned_keepsItsScript() throws IOException {
        script(12);
        meta.markStarted(12, 1, 0, 0);
        meta.forget(12, 1, true);
        assertFalse(meta.started(12, 1));
        assertTrue(Files.exists(meta.script(12)));
    }

    @Test
    void tidy_removesOldUnassignedTasksWithoutARun_only() throws IOException {
        script(3);                       // old, unassigned, no run: goes
        age(3, Duration.ofHours(200));
        script(4);                       // unassigned but recent: stays
        script(5);                       // old but assigned: stays
        age(5, Duration.ofHours(200));
        script(6);                       // old, with a result not yet delivered: stays
        meta.markStarted(6, 1, 0, 0);
        meta.markDone(6, 1, new MetaDir.Done(HostStatus.SUCCESS, 0));
        age(6, Duration.ofHours(200));
        Files.createDirectories(dir.resolve("meta/not-a-task"));
        int removed = meta.tidy(Set.of(5L), Duration.ofHours(168), Instant.now());
        assertEquals(1, removed);
        assertFalse(Files.exists(meta.taskDir(3)));
        assertTrue(Files.exists(meta.taskDir(4)) && Files.exists(meta.taskDir(5)) && Files.exists(meta.taskDir(6)));
        assertTrue(Files.exists(dir.resolve("meta/not-a-task")), "what is not a task is left alone");
    }

    @Test
    void shareScript_givesTheScriptToTheAccount_andTheDirectoryOnlyPassage() throws IOException {
        org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "chown needs root");
        script(7);
        meta.shareScript(7, 65534);
        var script = meta.taskDir(7).resolve("script");
        assertEquals("nobody", Files.getOwner(script).getName());
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(script)));
        assertEquals("rwx--x--x", PosixFilePermissions.toString(Files.getPosixFilePermissions(meta.taskDir(7))));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(meta.taskDir(7).resolve("stdin"))));
    }
}
