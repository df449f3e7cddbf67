package ibex.agent;

import ibex.core.HostStatus;
import ibex.core.Log;
import ibex.wire.TaskScript;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserPrincipalLookupService;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Runs scripts as processes: output straight to files (so memory stays flat whatever a script
 * prints), done when the script itself exits (a background child holding its pipes does not
 * matter: there are no pipes), timeout and kill as TERM to the whole process group, then KILL
 * after a grace period.
 */
final class Runner {
    /** A run's end, handed to the agent to report. */
    record Finished(long taskId, long clock, MetaDir.Done done) {
    }

    private enum Stop { TIMEOUT, KILL }

    private static final class Proc {
        final Process process;
        volatile Stop stop;
        /** The process tree when the stop began: reparented children no longer show as descendants. */
        volatile List<ProcessHandle> tree = List.of();

        Proc(Process process) {
            this.process = process;
        }
    }

    private record Key(long taskId, long clock) {
    }

    private final MetaDir meta;
    private final Consumer<Finished> finished;
    private final Duration grace;
    private final boolean root;
    private final String user;
    private final Map<Key, Proc> running = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timers =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("ibex-timers").daemon().factory());

    Runner(MetaDir meta, Consumer<Finished> finished, Duration grace) {
        this.meta = meta;
        this.finished = finished;
        this.grace = grace;
        this.user = System.getProperty("user.name");
        this.root = isRoot();
    }

    boolean running(long taskId, long clock) {
        return running.containsKey(new Key(taskId, clock));
    }

    int runningCount() {
        return running.size();
    }

    /**
     * Starts one run. The started marker is written first, so a run is never started twice for
     * the same clock, even across agent restarts. Failures to start end the run as failed with
     * the reason in its stderr.
     */
    void start(TaskScript s, long clock) throws IOException {
        meta.markStarted(s.taskId(), clock);
        var dir = meta.taskDir(s.taskId());
        var out = meta.stdout(s.taskId(), clock);
        var err = meta.stderr(s.taskId(), clock);
        Files.write(out, new byte[0]);
        Files.write(err, new byte[0]);
        List<String> cmd;
        var account = s.account().strip();
        var script = dir.resolve("script");
        var args = Command.args(s.args());
        if (account.isEmpty() || account.equals(user)) {
            cmd = Command.direct(script, args);
        } else if (!root) {
            fail(s.taskId(), clock, "ibex: cannot run as account '" + account + "': the agent runs as '" + user
                    + "', not root, so it can run scripts only as '" + user + "'");
            return;
        } else if (!Command.validAccountName(account)) {
            fail(s.taskId(), clock, "ibex: account '" + account + "' is not a valid user name");
            return;
        } else {
            var found = lookup(account);
            if (found.isEmpty()) {
                fail(s.taskId(), clock, "ibex: account '" + account + "' does not exist on this host");
                return;
            }
            giveTo(dir, found.get());
            cmd = Command.asAccount(found.get(), script, args);
        }
        var pb = new ProcessBuilder(cmd)
                .redirectInput(dir.resolve("stdin").toFile())
                .redirectOutput(out.toFile())
                .redirectError(err.toFile())
                .directory(Path.of(System.getProperty("user.home")).toFile());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            fail(s.taskId(), clock, "ibex: cannot start the script: " + e.getMessage());
            return;
        }
        var key = new Key(s.taskId(), clock);
        var proc = new Proc(p);
        running.put(key, proc);
        Log.info("agent", "task " + s.taskId() + " clock " + clock + ": started pid " + p.pid()
                + (account.isEmpty() ? "" : " as " + account));
        if (s.timeoutSeconds() > 0) {
            timers.schedule(() -> stop(proc, Stop.TIMEOUT), s.timeoutSeconds(), TimeUnit.SECONDS);
        }
        Thread.ofVirtual().name("ibex-wait-" + s.taskId()).start(() -> waitFor(key, proc, s.timeoutSeconds()));
    }

    /** Kills a run: TERM to its process group and descendants, KILL after the grace period. */
    void kill(long taskId, long clock) {
        var proc = running.get(new Key(taskId, clock));
        if (proc == null) {
            Log.info("agent", "task " + taskId + " clock " + clock + ": kill asked, but it is not running here");
            return;
        }
        stop(proc, Stop.KILL);
    }

    private void stop(Proc proc, Stop why) {
        if (proc.stop != null || !proc.process.isAlive()) {
            return;
        }
        proc.stop = why;
        proc.tree = proc.process.descendants().toList();
        signal(proc.process, proc.tree, false);
        timers.schedule(() -> {
            if (proc.process.isAlive() || proc.tree.stream().anyMatch(ProcessHandle::isAlive)) {
                signal(proc.process, proc.tree, true);
            }
        }, grace.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Signals the script's process group (it leads one) and any descendant that left it. */
    private static void signal(Process p, List<ProcessHandle> descendants, boolean force) {
        try {
            new ProcessBuilder("kill", force ? "-KILL" : "-TERM", "--", "-" + p.pid())
                    .redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start().waitFor();
        } catch (IOException e) {
            Log.warn("agent", "kill of process group " + p.pid() + " failed: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        for (var d : descendants) {
            if (force) {
                d.destroyForcibly();
            } else {
                d.destroy();
            }
        }
        if (force) {
            p.destroyForcibly();
        } else {
            p.destroy();
        }
    }

    private void waitFor(Key key, Proc proc, int timeoutSeconds) {
        int code;
        try {
            code = proc.process.waitFor();
        } catch (InterruptedException e) {
            return;
        }
        var stop = proc.stop;
        HostStatus status;
        String note;
        if (stop == Stop.TIMEOUT) {
            status = HostStatus.TIMEOUT;
            note = "ibex: timed out after " + timeoutSeconds + " s; the script's processes were killed";
        } else if (stop == Stop.KILL) {
            boolean survivors = survivors(proc);
            status = survivors ? HostStatus.KILLFAILED : HostStatus.KILLED;
            note = survivors ? "ibex: kill asked; some of the script's processes survived" : "ibex: killed on request";
        } else if (code == 0) {
            status = HostStatus.SUCCESS;
            note = null;
        } else {
            status = HostStatus.FAILED;
            note = code > 128 && code < 160 ? "ibex: the script was killed by signal " + (code - 128)
                    : "ibex: exit status " + code;
        }
        try {
            if (note != null) {
                appendNote(meta.stderr(key.taskId(), key.clock()), note);
            }
            meta.markDone(key.taskId(), key.clock(), new MetaDir.Done(status, code));
        } catch (IOException e) {
            Log.error("agent", "task " + key.taskId() + ": cannot record the result", e);
        }
        running.remove(key);
        Log.info("agent", "task " + key.taskId() + " clock " + key.clock() + ": " + status + " (exit " + code + ")");
        finished.accept(new Finished(key.taskId(), key.clock(), new MetaDir.Done(status, code)));
    }

    /** Waits out the grace period for the tree a kill saw; true when something still lives. */
    private boolean survivors(Proc proc) {
        long deadline = System.nanoTime() + grace.toNanos() + 2_000_000_000L;
        while (proc.tree.stream().anyMatch(ProcessHandle::isAlive)) {
            if (System.nanoTime() > deadline) {
                return true;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                return true;
            }
        }
        return false;
    }

    /** Ends a run that could not start, with the reason where users read it. */
    void fail(long taskId, long clock, String reason) throws IOException {
        appendNote(meta.stderr(taskId, clock), reason);
        var done = new MetaDir.Done(HostStatus.FAILED, -1);
        meta.markDone(taskId, clock, done);
        Log.warn("agent", "task " + taskId + " clock " + clock + ": " + reason);
        finished.accept(new Finished(taskId, clock, done));
    }

    static void appendNote(Path stderr, String note) throws IOException {
        boolean needsNewline = Files.exists(stderr) && Files.size(stderr) > 0 && !endsWithNewline(stderr);
        Files.writeString(stderr, (needsNewline ? "\n" : "") + note + "\n", StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static boolean endsWithNewline(Path f) throws IOException {
        try (var ch = Files.newByteChannel(f)) {
            ch.position(ch.size() - 1);
            var b = java.nio.ByteBuffer.allocate(1);
            ch.read(b);
            return b.get(0) == '\n';
        }
    }

    /** The account from the system's user database (NSS, so LDAP accounts work too). */
    private static Optional<Command.Account> lookup(String name) throws IOException {
        var p = new ProcessBuilder("getent", "passwd", name).redirectErrorStream(true).start();
        String line;
        try (var in = p.getInputStream()) {
            line = new String(in.readNBytes(4096), StandardCharsets.UTF_8).strip();
        }
        try {
            if (p.waitFor() != 0) {
                return Optional.empty();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
        var f = line.split(":", -1);
        if (f.length < 7 || !f[0].equals(name)) {
            return Optional.empty();
        }
        return Optional.of(new Command.Account(name, Integer.parseInt(f[2]), Integer.parseInt(f[3]), Path.of(f[5])));
    }

    /** The task directory and script belong to the account that runs them, and to nobody else. */
    private static void giveTo(Path dir, Command.Account a) throws IOException {
        UserPrincipalLookupService users = dir.getFileSystem().getUserPrincipalLookupService();
        var owner = users.lookupPrincipalByName(Integer.toString(a.uid()));
        Files.setOwner(dir, owner);
        Files.setOwner(dir.resolve("script"), owner);
    }

    private static boolean isRoot() {
        try {
            for (var line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.split("\\s+")[1].equals("0");
                }
            }
        } catch (IOException e) {
            Log.warn("agent", "cannot read /proc/self/status: " + e.getMessage());
        }
        return "root".equals(System.getProperty("user.name"));
    }

    void close() {
        timers.shutdownNow();
    }
}
