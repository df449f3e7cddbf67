package ibex.agent;

import ibex.core.HostStatus;
import ibex.wire.TaskScript;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;

/**
 * The agent's journal on disk. Layout under the configured MetaDir:
 * <pre>
 *   agent-id                 this agent's identity (a random UUID made on first start)
 *   &lt;task&gt;/                  mode 0700
 *     script args stdin account timeout   the task's inputs
 *     .write                 written last: the inputs are complete
 *     &lt;clock&gt;.started        written before the script starts: this run must never start again
 *     &lt;clock&gt;.stdout/.stderr the run's output
 *     &lt;clock&gt;.done           "status exitCode", written once the script exited
 * </pre>
 * Every file is written to a temporary name and moved into place atomically, so a crash never
 * leaves half a file that is believed. A run's files go when the server acks its result.
 */
final class MetaDir {
    private final Path root;

    MetaDir(Path root) throws IOException {
        this.root = root;
        Files.createDirectories(root);
        // Others may traverse (a script running as another account reaches its own task
        // directory) but not list the tasks.
        Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx--x--x"));
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
        writeAtomic(f, id + "\n", "rw-------");
        return id;
    }

    Path taskDir(long taskId) {
        return root.resolve(Long.toString(taskId));
    }

    boolean hasScript(long taskId) {
        return Files.exists(taskDir(taskId).resolve(".write"));
    }

    void writeScript(TaskScript s) throws IOException {
        var dir = taskDir(s.taskId());
        Files.createDirectories(dir);
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        writeAtomic(dir.resolve("script"), s.script(), "rwx------");
        writeAtomic(dir.resolve("args"), s.args(), "rw-------");
        writeAtomic(dir.resolve("stdin"), s.stdin(), "rw-------");
        writeAtomic(dir.resolve("account"), s.account(), "rw-------");
        writeAtomic(dir.resolve("timeout"), Integer.toString(s.timeoutSeconds()), "rw-------");
        writeAtomic(dir.resolve(".write"), "", "rw-------");
    }

    Optional<TaskScript> readScript(long taskId) throws IOException {
        if (!hasScript(taskId)) {
            return Optional.empty();
        }
        var dir = taskDir(taskId);
        return Optional.of(new TaskScript(taskId, read(dir, "script"), read(dir, "args"), read(dir, "stdin"),
                read(dir, "account"), Integer.parseInt(read(dir, "timeout").strip())));
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

    void markStarted(long taskId, long clock) throws IOException {
        writeAtomic(taskDir(taskId).resolve(clock + ".started"), "", "rw-------");
    }

    /** A finished run's status and exit code (-1 when there was none). */
    record Done(HostStatus status, int exitCode) {
    }

    void markDone(long taskId, long clock, Done d) throws IOException {
        writeAtomic(taskDir(taskId).resolve(clock + ".done"), d.status().wire() + " " + d.exitCode() + "\n", "rw-------");
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
        for (var suffix : new String[] {".started", ".done", ".stdout", ".stderr"}) {
            Files.deleteIfExists(dir.resolve(clock + suffix));
        }
        try (DirectoryStream<Path> left = Files.newDirectoryStream(dir, "*.started")) {
            if (left.iterator().hasNext()) {
                return;
            }
        }
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

    static void writeAtomic(Path target, String content, String perms) throws IOException {
        var tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(perms)));
        Files.writeString(tmp, content, StandardCharsets.UTF_8);
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }
}
