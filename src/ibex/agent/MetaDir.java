package ibex.agent;

import ibex.core.HostStatus;
import ibex.wire.TaskScript;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;
import java.util.UUID;

/**
 * The agent's journal on disk. Layout under the configured MetaDir:
 * <pre>
 *   agent-id                 this agent's identity (a random UUID made on first start)
 *   &lt;task&gt;/                  mode 0700
 *     script                 the script (0700)
 *     stdin                  its stdin, when it has one (else it reads /dev/null)
 *     &lt;clock&gt;.run            the run's log, one line per event, appended:
 *                              started MS TIMEOUT   the agent, before the script starts (the
 *                                                   file is created then: a run with one is
 *                                                   never started again)
 *                              run                  the wrapper, as it starts the script
 *                              exit N               the wrapper, when the script exited
 *                              stop kill|timeout    the agent began stopping the run
 *                              done STATUS CODE     the result, reported until the server acks it
 *     &lt;clock&gt;.stdout/.stderr the run's output, written by the script's processes themselves
 * </pre>
 * One file per run and no temporary files, because files cost: creating one takes about 0.1 ms of
 * the kernel's time here (more when many were deleted lately), a directory 0.2 ms, and they were most
 * of the agent's work per start (BENCHMARKS.md P5). Each line is one append, one write(2) of a few
 * bytes, so a killed agent or wrapper never leaves half a line; a line that does not parse (a host
 * that lost power) is ignored, and the last line of a kind counts. Nothing is fsynced: the
 * guarantees are against the agent being killed (kill -9, a crash), which the page cache survives,
 * not against the host losing power. A task's other inputs (args, account, timeout) live in the
 * agent's memory, not here: a restarted agent asks the server for them again before it starts a
 * run, and what a run still going needs after a restart is in its {@code started} line. A run's
 * files go when the server acks its result, a task's directory with its last run; {@link #tidy}
 * removes what the server stopped assigning without a run (a script pushed, then cancelled) once
 * it is old.
 */
final class MetaDir {
    private static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> PASSAGE_DIR = PosixFilePermissions.fromString("rwx--x--x");
    /** A new script or directory: rwx for the agent's user only. */
    private static final FileAttribute<Set<PosixFilePermission>> OWNER_RWX = PosixFilePermissions.asFileAttribute(OWNER_ONLY);
    private static final FileAttribute<Set<PosixFilePermission>> PRIVATE_FILE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));
    private static final Set<StandardOpenOption> CREATE_NEW = EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    private static final OpenOption[] APPEND = {StandardOpenOption.WRITE, StandardOpenOption.APPEND};
    /** What a run reads as stdin when its task has none. */
    private static final Path NO_STDIN = Path.of("/dev/null");

    private final Path root;

    MetaDir(Path root) throws IOException {
        this.root = root;
        Files.createDirectories(root);
        // Others may traverse (a script running as another account reaches its own task
        // directory) but not list the tasks.
        Files.setPosixFilePermissions(root, PASSAGE_DIR);
    }

    Path root() {
        return root;
    }

    /** This agent's identity, made once; it tells the server a reconnect from a copied config. */
    String agentId() throws IOException {
        var f = root.resolve("agent-id");
        if (Files.exists(f)) {
            var id = Files.readString(f, StandardCharsets.UTF_8).strip();
            if (!id.isEmpty()) {
                return id;
            }
        }
        var id = UUID.randomUUID().toString();
        var tmp = root.resolve(".agent-id.tmp");
        writeNew(tmp, id + "\n", PRIVATE_FILE);
        try {
            Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, f, StandardCopyOption.REPLACE_EXISTING);
        }
        return id;
    }

    Path taskDir(long taskId) {
        return root.resolve(Long.toString(taskId));
    }

    /** What a run of a task needs besides its script file: held by the agent, not on disk. */
    record Inputs(long taskId, String args, String account, int timeoutSeconds, Path stdin) {
    }

    /**
     * Writes a task's script (and stdin, when it has one) and returns what a run of it needs. The
     * script is written under {@link Command#EXEC_LOCK}; a file left by an earlier write is replaced.
     */
    Inputs writeScript(TaskScript s) throws IOException {
        var dir = taskDir(s.taskId());
        try {
            Files.createDirectory(dir, OWNER_RWX);
        } catch (FileAlreadyExistsException e) {
            Files.setPosixFilePermissions(dir, OWNER_ONLY);
        }
        Command.EXEC_LOCK.writeLock().lock();
        try {
            writeNew(dir.resolve("script"), s.script(), OWNER_RWX);
        } finally {
            Command.EXEC_LOCK.writeLock().unlock();
        }
        var stdin = NO_STDIN;
        if (!s.stdin().isEmpty()) {
            stdin = dir.resolve("stdin");
            writeNew(stdin, s.stdin(), PRIVATE_FILE);
        }
        return new Inputs(s.taskId(), s.args(), s.account(), s.timeoutSeconds(), stdin);
    }

    /** A new file with these permissions from the start (one left by a write cut short is replaced). */
    private static void writeNew(Path f, String content, FileAttribute<?> perms) throws IOException {
        Files.deleteIfExists(f);
        try (var ch = Files.newByteChannel(f, CREATE_NEW, perms)) {
            var b = ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
    }

    Path script(long taskId) {
        return taskDir(taskId).resolve("script");
    }

    /** The run's log; also the file its wrapper appends to ({@link Command#wrapped}). */
    Path runFile(long taskId, long clock) {
        return taskDir(taskId).resolve(clock + ".run");
    }

    Path stdout(long taskId, long clock) {
        return taskDir(taskId).resolve(clock + ".stdout");
    }

    Path stderr(long taskId, long clock) {
        return taskDir(taskId).resolve(clock + ".stderr");
    }

    boolean started(long taskId, long clock) {
        return Files.exists(runFile(taskId, clock));
    }

    /** Creates the run's log with its first line, or fails when it exists: a run is started once. */
    void markStarted(long taskId, long clock, long epochMs, int timeoutSeconds) throws IOException {
        var line = ByteBuffer.wrap(("started " + epochMs + " " + timeoutSeconds + "\n").getBytes(StandardCharsets.ISO_8859_1));
        var f = runFile(taskId, clock);
        try {
            writeStarted(f, line);
        } catch (NoSuchFileException e) {
            // A run killed before its script came: its task has no directory yet.
            try {
                Files.createDirectory(f.getParent(), OWNER_RWX);
            } catch (FileAlreadyExistsException raced) {
                // made meanwhile by the script's arrival
            }
            writeStarted(f, line);
        }
    }

    private static void writeStarted(Path f, ByteBuffer line) throws IOException {
        try (var ch = Files.newByteChannel(f, CREATE_NEW, PRIVATE_FILE)) {
            ch.write(line);
        }
    }

    /** Records that the agent began stopping a run, so a restarted agent knows why it ended. */
    void markStop(long taskId, long clock, String why) throws IOException {
        append(taskId, clock, "stop " + why);
    }

    /** A finished run's status and exit code (-1 when there was none). */
    record Done(HostStatus status, int exitCode) {
    }

    void markDone(long taskId, long clock, Done d) throws IOException {
        append(taskId, clock, "done " + d.status().wire() + " " + d.exitCode());
    }

    private void append(long taskId, long clock, String line) throws IOException {
        Files.write(runFile(taskId, clock), (line + "\n").getBytes(StandardCharsets.ISO_8859_1), APPEND);
    }

    /**
     * What a run's log says: when it started and with which timeout, whether its wrapper began,
     * the script's exit status, why the agent stopped it, its result; the last line of each kind.
     */
    record Run(long startedAt, int timeoutSeconds, boolean wrapperBegan, OptionalInt exit, Optional<String> stop,
               Optional<Done> done) {
    }

    /** The run's log read, or empty when the run never started here. */
    Optional<Run> run(long taskId, long clock) throws IOException {
        String text;
        try {
            text = Files.readString(runFile(taskId, clock), StandardCharsets.ISO_8859_1);
        } catch (NoSuchFileException e) {
            return Optional.empty();
        }
        long startedAt = 0;
        int timeout = 0;
        boolean began = false;
        OptionalInt exit = OptionalInt.empty();
        Optional<String> stop = Optional.empty();
        Optional<Done> done = Optional.empty();
        for (var line : text.split("\n")) {
            var f = line.split(" ");
            try {
                switch (f[0]) {
                    case "started" -> {
                        startedAt = Long.parseLong(f[1]);
                        timeout = Integer.parseInt(f[2]);
                    }
                    case "run" -> began = true;
                    case "exit" -> exit = OptionalInt.of(Integer.parseInt(f[1]));
                    case "stop" -> stop = f[1].equals("kill") || f[1].equals("timeout") ? Optional.of(f[1]) : stop;
                    case "done" -> {
                        var status = HostStatus.parse(f[1]).filter(HostStatus::isResult);
                        if (status.isPresent()) {
                            done = Optional.of(new Done(status.get(), Integer.parseInt(f[2])));
                        }
                    }
                    default -> { }
                }
            } catch (RuntimeException torn) {
                // A line cut short (power lost mid-write): ignored, as if it was never written.
            }
        }
        return Optional.of(new Run(startedAt, timeout, began, exit, stop, done));
    }

    /**
     * Lets {@code uid} run a task's script and nothing more: the script becomes theirs (mode 0700);
     * the task directory stays the agent's and may be passed through (0711), not listed; the other
     * files stay the agent's, mode 0600.
     */
    void shareScript(long taskId, int uid) throws IOException {
        var dir = taskDir(taskId);
        var owner = dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(Integer.toString(uid));
        Files.setOwner(dir.resolve("script"), owner);
        Files.setPosixFilePermissions(dir.resolve("script"), OWNER_ONLY);
        Files.setPosixFilePermissions(dir, PASSAGE_DIR);
    }

    /** One run on disk: a task id and a clock with a run log. */
    record RunFile(long taskId, long clock) {
    }

    /** Every run the journal knows, for restart recovery and for reporting unacked results. */
    List<RunFile> runs() throws IOException {
        var out = new ArrayList<RunFile>();
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(root)) {
            for (var dir : tasks) {
                var id = parseLong(dir.getFileName().toString());
                if (id.isEmpty() || !Files.isDirectory(dir)) {
                    continue;
                }
                try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.run")) {
                    for (var f : files) {
                        var name = f.getFileName().toString();
                        parseLong(name.substring(0, name.length() - ".run".length()))
                                .ifPresent(clock -> out.add(new RunFile(id.getAsLong(), clock)));
                    }
                } catch (java.nio.file.NoSuchFileException e) {
                    // Removed by an ack while we listed: nothing of it is left to report.
                }
            }
        }
        return out;
    }

    /**
     * Forgets one run; unless {@code keepTask}, removes the task directory too when no other run's
     * log is in it. One plain listing: a glob compiles a pattern per call, which costs in the
     * agent's interpreter at every ack.
     */
    void forget(long taskId, long clock, boolean keepTask) throws IOException {
        var dir = taskDir(taskId);
        // An ack can come twice (a result resent before the first ack arrived): the second finds nothing.
        if (!Files.isDirectory(dir)) {
            return;
        }
        for (var suffix : new String[] {".run", ".stdout", ".stderr"}) {
            Files.deleteIfExists(dir.resolve(clock + suffix));
        }
        if (keepTask) {
            return;
        }
        var left = new ArrayList<Path>();
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
            for (var f : files) {
                if (f.getFileName().toString().endsWith(".run")) {
                    return;
                }
                left.add(f);
            }
        }
        for (var f : left) {
            Files.deleteIfExists(f);
        }
        try {
            Files.deleteIfExists(dir);
        } catch (DirectoryNotEmptyException e) {
            // Something arrived meanwhile: the directory stays until tidy finds it unused.
        }
    }

    /**
     * Removes task directories that hold no run and whose task is not in {@code keep} (assigned or
     * running), once nothing in them changed for {@code age}. A directory with a run is left alone:
     * its result is still to be delivered, or the run is still going.
     */
    int tidy(Set<Long> keep, Duration age, Instant now) throws IOException {
        int removed = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(root)) {
            for (var dir : tasks) {
                var id = parseLong(dir.getFileName().toString());
                if (id.isEmpty() || !Files.isDirectory(dir) || keep.contains(id.getAsLong())) {
                    continue;
                }
                Instant newest = Files.getLastModifiedTime(dir).toInstant();
                boolean hasRun = false;
                try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
                    for (var f : files) {
                        hasRun |= f.getFileName().toString().endsWith(".run");
                        var t = Files.getLastModifiedTime(f).toInstant();
                        newest = t.isAfter(newest) ? t : newest;
                    }
                }
                if (!hasRun && newest.plus(age).isBefore(now)) {
                    deleteTask(dir);
                    removed++;
                }
            }
        }
        return removed;
    }

    private static void deleteTask(Path dir) throws IOException {
        try (DirectoryStream<Path> all = Files.newDirectoryStream(dir)) {
            for (var f : all) {
                Files.deleteIfExists(f);
            }
        }
        Files.deleteIfExists(dir);
    }

    private static OptionalLong parseLong(String s) {
        try {
            return OptionalLong.of(Long.parseLong(s));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }
}
