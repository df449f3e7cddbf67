package ibex.agent;

import ibex.core.HostStatus;
import ibex.wire.TaskScript;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
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
 *     inputs                 timeout, account and args; written last: the inputs are complete
 *     &lt;clock&gt;.started        start time (epoch ms), created before the script starts: this run
 *                            must never start again
 *     &lt;clock&gt;.stdout/.stderr the run's output, written by the script's processes themselves
 *     &lt;clock&gt;.exit           created by the wrapper as the script starts; the script's exit
 *                            status once it exited (see {@link Command})
 *     &lt;clock&gt;.stop           "kill" or "timeout": the agent began stopping the run
 *     &lt;clock&gt;.done           "status exitCode": the result, reported until the server acks it
 * </pre>
 * The markers are written to a temporary name and moved into place atomically, the task's inputs
 * in place before {@code inputs}, so a crash never leaves half a file that is believed; the one
 * exception is {@code .started}, whose existence is what counts: it is created in one step (a
 * crash before its time is written leaves it empty, and its mtime is the start). Files are few
 * because each costs: creating one takes about 0.1 ms of the kernel's time here, a directory 0.2 ms,
 * and a run's files are most of what the agent does per start (BENCHMARKS.md P5). Nothing is
 * fsynced: the guarantees are against the agent being killed (kill -9, a crash), which the page
 * cache survives, not against the host losing power. A run's files go when the server acks its
 * result, a task's directory with its last run; {@link #tidy} removes what the server stopped
 * assigning without a run (a script pushed, then cancelled) once it is old.
 */
final class MetaDir {
    private static final FileAttribute<Set<PosixFilePermission>> PRIVATE_FILE = perms("rw-------");
    private static final FileAttribute<Set<PosixFilePermission>> PRIVATE_EXEC = perms("rwx------");
    private static final Set<PosixFilePermission> PRIVATE_DIR = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> PASSAGE_DIR = PosixFilePermissions.fromString("rwx--x--x");
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
        writeAtomic(f, id + "\n");
        return id;
    }

    Path taskDir(long taskId) {
        return root.resolve(Long.toString(taskId));
    }

    private static FileAttribute<Set<PosixFilePermission>> perms(String rwx) {
        return PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(rwx));
    }

    boolean hasScript(long taskId) {
        return Files.exists(taskDir(taskId).resolve("inputs"));
    }

    /**
     * Writes a task's inputs, {@code inputs} last and atomically: a task without it is never read,
     * so the script and stdin are written in place (a crash midway leaves files that are written
     * again, never believed). The script is written under {@link Command#EXEC_LOCK}.
     */
    void writeScript(TaskScript s) throws IOException {
        var dir = taskDir(s.taskId());
        try {
            Files.createDirectory(dir, perms("rwx------"));
        } catch (FileAlreadyExistsException e) {
            Files.setPosixFilePermissions(dir, PRIVATE_DIR);
        }
        Command.EXEC_LOCK.writeLock().lock();
        try {
            writeNew(dir.resolve("script"), s.script(), PRIVATE_EXEC);
        } finally {
            Command.EXEC_LOCK.writeLock().unlock();
        }
        if (!s.stdin().isEmpty()) {
            writeNew(dir.resolve("stdin"), s.stdin(), PRIVATE_FILE);
        }
        // "timeout stdin? accountLength\n" then the account and the args, which may hold any character.
        writeAtomic(dir.resolve("inputs"), s.timeoutSeconds() + " " + (s.stdin().isEmpty() ? 0 : 1) + " "
                + s.account().length() + "\n" + s.account() + s.args());
    }

    /** A new file with these permissions from the start (one left by a write cut short is replaced). */
    private static void writeNew(Path f, String content, FileAttribute<?> perms) throws IOException {
        Files.deleteIfExists(f);
        try (var ch = Files.newByteChannel(f, EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), perms)) {
            var b = ByteBuffer.wrap(content.getBytes(StandardCharsets.UTF_8));
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
    }

    Optional<TaskScript> readScript(long taskId) throws IOException {
        if (!hasScript(taskId)) {
            return Optional.empty();
        }
        var dir = taskDir(taskId);
        var inputs = read(dir, "inputs");
        int eol = inputs.indexOf('\n');
        var head = inputs.substring(0, eol).split(" ");
        int accountEnd = eol + 1 + Integer.parseInt(head[2]);
        return Optional.of(new TaskScript(taskId, read(dir, "script"), inputs.substring(accountEnd),
                head[1].equals("1") ? read(dir, "stdin") : "", inputs.substring(eol + 1, accountEnd), Integer.parseInt(head[0])));
    }

    /** The file a run of this task reads as stdin. */
    Path stdin(TaskScript s) {
        return s.stdin().isEmpty() ? NO_STDIN : taskDir(s.taskId()).resolve("stdin");
    }

    Path stdout(long taskId, long clock) {
        return taskDir(taskId).resolve(clock + ".stdout");
    }

    Path stderr(long taskId, long clock) {
        return taskDir(taskId).resolve(clock + ".stderr");
    }

    boolean started(long taskId, long clock) {
        return Files.exists(taskDir(taskId).resolve(clock + ".started"));
    }

    /** Creates the marker, or fails when it exists: a run is started once. */
    void markStarted(long taskId, long clock, long epochMs) throws IOException {
        try (var ch = Files.newByteChannel(taskDir(taskId).resolve(clock + ".started"),
                EnumSet.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE), PRIVATE_FILE)) {
            ch.write(ByteBuffer.wrap((epochMs + "\n").getBytes(StandardCharsets.ISO_8859_1)));
        }
    }

    /** When the run started (epoch ms); the marker's time when it holds none. */
    long startedAt(long taskId, long clock) throws IOException {
        var f = taskDir(taskId).resolve(clock + ".started");
        try {
            return Long.parseLong(Files.readString(f, StandardCharsets.UTF_8).strip());
        } catch (NumberFormatException e) {
            return Files.getLastModifiedTime(f).toMillis();
        }
    }

    /** An empty output file only the agent's user can read; the script writes it through its fds. */
    Path newOutput(Path f) throws IOException {
        Files.deleteIfExists(f);
        return Files.createFile(f, PRIVATE_FILE);
    }

    Path exitFile(long taskId, long clock) {
        return taskDir(taskId).resolve(clock + ".exit");
    }

    /** The script's exit status as the wrapper wrote it; empty while it runs or if nothing was written. */
    OptionalInt exitStatus(long taskId, long clock) throws IOException {
        var f = exitFile(taskId, clock);
        if (!Files.exists(f)) {
            return OptionalInt.empty();
        }
        var text = Files.readString(f, StandardCharsets.ISO_8859_1).strip();
        try {
            return text.isEmpty() ? OptionalInt.empty() : OptionalInt.of(Integer.parseInt(text));
        } catch (NumberFormatException e) {
            return OptionalInt.empty();
        }
    }

    /** Records that the agent began stopping a run, so a restarted agent knows why it ended. */
    void markStop(long taskId, long clock, String why) throws IOException {
        writeAtomic(taskDir(taskId).resolve(clock + ".stop"), why + "\n");
    }

    Optional<String> stop(long taskId, long clock) throws IOException {
        var f = taskDir(taskId).resolve(clock + ".stop");
        return Files.exists(f) ? Optional.of(Files.readString(f, StandardCharsets.UTF_8).strip()) : Optional.empty();
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
        Files.setPosixFilePermissions(dir.resolve("script"), PRIVATE_DIR);
        Files.setPosixFilePermissions(dir, PASSAGE_DIR);
    }

    /** A finished run's status and exit code (-1 when there was none). */
    record Done(HostStatus status, int exitCode) {
    }

    void markDone(long taskId, long clock, Done d) throws IOException {
        writeAtomic(taskDir(taskId).resolve(clock + ".done"), d.status().wire() + " " + d.exitCode() + "\n");
    }

    Optional<Done> done(long taskId, long clock) throws IOException {
        var f = taskDir(taskId).resolve(clock + ".done");
        if (!Files.exists(f)) {
            return Optional.empty();
        }
        var parts = Files.readString(f, StandardCharsets.UTF_8).strip().split(" ");
        var status = HostStatus.parse(parts[0]).filter(HostStatus::isResult).orElse(HostStatus.FAILED);
        int code = parts.length > 1 ? Integer.parseInt(parts[1]) : -1;
        return Optional.of(new Done(status, code));
    }

    /** One run on disk: a task id and clock with a started or done marker. */
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
                try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.started")) {
                    for (var f : files) {
                        var name = f.getFileName().toString();
                        parseLong(name.substring(0, name.length() - ".started".length()))
                                .ifPresent(clock -> out.add(new RunFile(id.getAsLong(), clock)));
                    }
                } catch (java.nio.file.NoSuchFileException e) {
                    // Removed by an ack while we listed: nothing of it is left to report.
                }
            }
        }
        return out;
    }

    /** Forgets one run; removes the task directory once no run is left in it. */
    void forget(long taskId, long clock) throws IOException {
        var dir = taskDir(taskId);
        // An ack can come twice (a result resent before the first ack arrived): the second finds nothing.
        if (!Files.isDirectory(dir)) {
            return;
        }
        for (var suffix : new String[] {".started", ".exit", ".stop", ".stdout", ".stderr", ".done"}) {
            Files.deleteIfExists(dir.resolve(clock + suffix));
        }
        try (DirectoryStream<Path> left = Files.newDirectoryStream(dir, "*.started")) {
            if (left.iterator().hasNext()) {
                return;
            }
        }
        deleteTask(dir);
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
                        hasRun |= f.getFileName().toString().endsWith(".started");
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

    private static String read(Path dir, String name) throws IOException {
        return Files.readString(dir.resolve(name), StandardCharsets.UTF_8);
    }

    /** Writes a file only the agent's user can read, through a temporary name, so it is whole or absent. */
    static void writeAtomic(Path target, String content) throws IOException {
        var tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        writeNew(tmp, content, PRIVATE_FILE);
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
