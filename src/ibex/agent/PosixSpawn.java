package ibex.agent;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import ibex.core.Log;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Starts a wrapper with libc's {@code posix_spawn}, through the JDK's foreign function API. Why:
 * ProcessBuilder starts every child through jspawnhelper (an exec more) and cannot make a session
 * ({@code setsid}, another exec); one posix_spawn with {@code POSIX_SPAWN_SETSID} does both in the
 * clone that starts the wrapper, and a run then costs about what a plain ProcessBuilder start of the
 * script alone does (BENCHMARKS.md P5).
 *
 * <p>What the JDK does for a child is done here too: every descriptor of the agent above 2 is
 * closed (closefrom: the script must not inherit the agent's connection or journal files), stdin,
 * stdout and stderr are opened on the run's files, the working directory is set; and more: the
 * signal mask is emptied and every signal set to its default, whatever the JVM had. That needs
 * glibc 2.34 or later ({@code posix_spawn_file_actions_addclosefrom_np}); {@link #load} is empty on
 * an older libc, and on one it cannot link, and the agent uses {@link Spawner.Jdk}.
 *
 * <p>Each started process is waited for by a thread of a cached pool blocked in {@code waitpid},
 * as the JDK's own process reaper does: a virtual thread would hold its carrier for the whole run.
 */
@SuppressWarnings("restricted")   // downcalls into libc are the point; bin/ibex runs agentd with --enable-native-access=ibex
final class PosixSpawn implements Spawner {
    // glibc's values on Linux (x86-64 and arm64 alike).
    private static final short POSIX_SPAWN_SETSIGDEF = 0x04;
    private static final short POSIX_SPAWN_SETSIGMASK = 0x08;
    private static final short POSIX_SPAWN_SETSID = 0x80;
    private static final int O_RDONLY = 0;
    private static final int O_WRONLY_CREAT_APPEND = 01 | 0100 | 02000;
    private static final int EINTR = 4;
    /** Larger than glibc's posix_spawn_file_actions_t (80 bytes), posix_spawnattr_t (336) and sigset_t (128). */
    private static final long OPAQUE = 1024;

    private final MethodHandle faInit;
    private final MethodHandle faOpen;
    private final MethodHandle faCloseFrom;
    private final MethodHandle faChdir;
    private final MethodHandle faDestroy;
    private final MethodHandle spawn;
    private final MethodHandle waitpid;
    private final MethodHandle strerror;
    private final VarHandle errno;
    /** The attributes are the same for every start: made once, never freed. */
    private final MemorySegment attr;
    /** The agent's environment, as ProcessBuilder would pass it: made once, never freed. */
    private final MemorySegment envp;
    private final ExecutorService reapers = Executors.newCachedThreadPool(
            Thread.ofPlatform().name("ibex-reaper-", 0).daemon().factory());

    private PosixSpawn(SymbolLookup libc) throws Throwable {
        var linker = Linker.nativeLinker();
        faInit = handle(linker, libc, "posix_spawn_file_actions_init", JAVA_INT, ADDRESS);
        faOpen = handle(linker, libc, "posix_spawn_file_actions_addopen", JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT);
        faCloseFrom = handle(linker, libc, "posix_spawn_file_actions_addclosefrom_np", JAVA_INT, ADDRESS, JAVA_INT);
        faChdir = handle(linker, libc, "posix_spawn_file_actions_addchdir_np", JAVA_INT, ADDRESS, ADDRESS);
        faDestroy = handle(linker, libc, "posix_spawn_file_actions_destroy", JAVA_INT, ADDRESS);
        spawn = handle(linker, libc, "posix_spawn", JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS);
        strerror = handle(linker, libc, "strerror", ADDRESS, JAVA_INT);
        var capture = Linker.Option.captureCallState("errno");
        waitpid = linker.downcallHandle(symbol(libc, "waitpid"), FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), capture);
        errno = Linker.Option.captureStateLayout().varHandle(MemoryLayout.PathElement.groupElement("errno"));

        var global = Arena.global();
        attr = global.allocate(OPAQUE, 16);
        var noSignals = global.allocate(OPAQUE, 16);
        var allSignals = global.allocate(OPAQUE, 16);
        check("posix_spawnattr_init", (int) handle(linker, libc, "posix_spawnattr_init", JAVA_INT, ADDRESS).invokeExact(attr));
        check("sigemptyset", (int) handle(linker, libc, "sigemptyset", JAVA_INT, ADDRESS).invokeExact(noSignals));
        check("sigfillset", (int) handle(linker, libc, "sigfillset", JAVA_INT, ADDRESS).invokeExact(allSignals));
        check("posix_spawnattr_setsigmask",
                (int) handle(linker, libc, "posix_spawnattr_setsigmask", JAVA_INT, ADDRESS, ADDRESS).invokeExact(attr, noSignals));
        check("posix_spawnattr_setsigdefault",
                (int) handle(linker, libc, "posix_spawnattr_setsigdefault", JAVA_INT, ADDRESS, ADDRESS).invokeExact(attr, allSignals));
        check("posix_spawnattr_setflags", (int) handle(linker, libc, "posix_spawnattr_setflags", JAVA_INT, ADDRESS, JAVA_SHORT)
                .invokeExact(attr, (short) (POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)));
        var env = System.getenv();
        envp = global.allocate(ADDRESS, env.size() + 1L);
        long i = 0;
        for (var e : env.entrySet()) {
            envp.setAtIndex(ADDRESS, i++, global.allocateFrom(e.getKey() + "=" + e.getValue()));
        }
    }

    /** The spawner, or empty (said once in the log) when this libc lacks a function it needs. */
    static Optional<PosixSpawn> load() {
        try {
            return Optional.of(new PosixSpawn(Linker.nativeLinker().defaultLookup()));
        } catch (Throwable e) {
            Log.info("agent", "runs start through ProcessBuilder and setsid: posix_spawn cannot be used here (" + e + ")");
            return Optional.empty();
        }
    }

    private static MethodHandle handle(Linker linker, SymbolLookup libc, String name, MemoryLayout result, MemoryLayout... args) {
        return linker.downcallHandle(symbol(libc, name), FunctionDescriptor.of(result, args));
    }

    /** A libc function; one that is missing (glibc older than 2.34) makes {@link #load} fall back. */
    private static MemorySegment symbol(SymbolLookup libc, String name) {
        return libc.find(name).orElseThrow(() -> new IllegalStateException("this libc has no " + name));
    }

    private static void check(String what, int result) {
        if (result != 0) {
            throw new IllegalStateException(what + " returned " + result);
        }
    }

    @Override
    public Started start(List<String> argv, Path stdin, Path stdout, Path stderr, Path dir) throws IOException {
        int pid;
        Command.EXEC_LOCK.readLock().lock();
        try (var arena = Arena.ofConfined()) {
            pid = spawn(arena, argv, stdin, stdout, stderr, dir);
        } finally {
            Command.EXEC_LOCK.readLock().unlock();
        }
        var exit = new CompletableFuture<Integer>();
        reapers.execute(() -> reap(pid, exit));
        return new Started(pid, exit);
    }

    private int spawn(Arena arena, List<String> argv, Path stdin, Path stdout, Path stderr, Path dir) throws IOException {
        var actions = arena.allocate(OPAQUE, 16);
        var argvC = arena.allocate(ADDRESS, argv.size() + 1L);
        for (int i = 0; i < argv.size(); i++) {
            argvC.setAtIndex(ADDRESS, i, arena.allocateFrom(argv.get(i)));
        }
        var pid = arena.allocate(JAVA_INT);
        try {
            check("posix_spawn_file_actions_init", (int) faInit.invokeExact(actions));
            try {
                fileAction("open stdin", (int) faOpen.invokeExact(actions, 0, arena.allocateFrom(stdin.toString()), O_RDONLY, 0));
                fileAction("open stdout", (int) faOpen.invokeExact(actions, 1, arena.allocateFrom(stdout.toString()),
                        O_WRONLY_CREAT_APPEND, 0600));
                fileAction("open stderr", (int) faOpen.invokeExact(actions, 2, arena.allocateFrom(stderr.toString()),
                        O_WRONLY_CREAT_APPEND, 0600));
                fileAction("closefrom", (int) faCloseFrom.invokeExact(actions, 3));
                fileAction("chdir", (int) faChdir.invokeExact(actions, arena.allocateFrom(dir.toString())));
                int err = (int) spawn.invokeExact(pid, argvC.getAtIndex(ADDRESS, 0), actions, attr, argvC, envp);
                if (err != 0) {
                    throw new IOException("posix_spawn " + argv.getFirst() + ": " + describe(err));
                }
            } finally {
                int ignored = (int) faDestroy.invokeExact(actions);
            }
        } catch (IOException | RuntimeException | Error e) {
            throw e;
        } catch (Throwable e) {
            throw new IllegalStateException("posix_spawn", e);   // invokeExact declares Throwable; a downcall throws none
        }
        return pid.get(JAVA_INT, 0);
    }

    private void fileAction(String what, int err) throws IOException {
        if (err != 0) {
            throw new IOException("posix_spawn: " + what + ": " + describe(err));
        }
    }

    /** Waits for {@code pid} on a reaper thread: its exit code, or 128 + the signal, as Process.exitValue says. */
    private void reap(int pid, CompletableFuture<Integer> exit) {
        try (var arena = Arena.ofConfined()) {
            var status = arena.allocate(JAVA_INT);
            var state = arena.allocate(Linker.Option.captureStateLayout());
            while (true) {
                int r = (int) waitpid.invokeExact(state, pid, status, 0);
                if (r == pid) {
                    int s = status.get(JAVA_INT, 0);
                    int signal = s & 0x7f;
                    exit.complete(signal == 0 ? (s >> 8) & 0xff : 128 + signal);
                    return;
                }
                int e = (int) errno.get(state, 0L);
                if (r != -1 || e != EINTR) {
                    exit.completeExceptionally(new IOException("waitpid " + pid + ": " + describe(e)));
                    return;
                }
            }
        } catch (Throwable e) {
            exit.completeExceptionally(e);
        }
    }

    private String describe(int err) {
        try {
            var text = (MemorySegment) strerror.invokeExact(err);
            return text.reinterpret(256).getString(0) + " (errno " + err + ")";
        } catch (Throwable e) {
            return "errno " + err;
        }
    }

    @Override
    public String toString() {
        return "posix_spawn";
    }
}
