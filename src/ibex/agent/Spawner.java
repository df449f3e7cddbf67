package ibex.agent;

import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * How the agent starts a run's wrapper: in a session of its own (so a kill reaches everything the
 * script started), stdin on a file, stdout and stderr appended to files created readable by the
 * agent's user only, no other descriptor of the agent inherited, in the agent user's working directory.
 * {@link PosixSpawn} does it with one posix_spawn; {@link Jdk}, for a libc without what that needs,
 * with ProcessBuilder and {@code setsid}. {@link #best} picks once, at the agent's first start of a run.
 */
sealed interface Spawner permits PosixSpawn, Spawner.Jdk {
    /** A started process and its exit status: the code, or 128 + the signal that ended it. */
    record Started(long pid, CompletableFuture<Integer> exit) {
    }

    /** Starts {@code argv} as the leader of a new session; every start takes {@link Command#EXEC_LOCK}. */
    Started start(List<String> argv, Path stdin, Path stdout, Path stderr, Path dir) throws IOException;

    /** posix_spawn where libc has it (glibc 2.34 or later), else ProcessBuilder. */
    static Spawner best() {
        var posix = PosixSpawn.load();
        return posix.isPresent() ? posix.get() : new Jdk();
    }

    /**
     * ProcessBuilder: the JDK starts every process through its jspawnhelper and cannot make a
     * session, so {@code setsid} does (it execs in place); two execs more than {@link PosixSpawn}.
     */
    final class Jdk implements Spawner {
        @Override
        public Started start(List<String> argv, Path stdin, Path stdout, Path stderr, Path dir) throws IOException {
            // ProcessBuilder would create them readable by all (mode 0666 less the umask).
            createPrivate(stdout);
            createPrivate(stderr);
            var cmd = new ArrayList<String>(argv.size() + 1);
            cmd.add("/usr/bin/setsid");
            cmd.addAll(argv);
            var p = Command.start(new ProcessBuilder(cmd)
                    .redirectInput(stdin.toFile())
                    .redirectOutput(ProcessBuilder.Redirect.appendTo(stdout.toFile()))
                    .redirectError(ProcessBuilder.Redirect.appendTo(stderr.toFile()))
                    .directory(dir.toFile()));
            return new Started(p.pid(), p.onExit().thenApply(Process::exitValue));
        }

        private static void createPrivate(Path f) throws IOException {
            try {
                Files.createFile(f, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
            } catch (FileAlreadyExistsException e) {
                // Appended to, as posix_spawn does.
            }
        }

        @Override
        public String toString() {
            return "ProcessBuilder + setsid";
        }
    }
}
