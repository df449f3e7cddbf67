package ibex.agent;

import ibex.core.HostStatus;
import ibex.core.Log;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.OptionalInt;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Runs scripts as processes, under the wrapper of {@link Command}.
 * <ul>
 * <li>Output goes straight to files, so the agent's memory stays flat whatever a script prints.</li>
 * <li>A run is done when its script exits: the wrapper waits for the script alone, so a background
 *     child holding stdout does not hold the run, and it is left alone.</li>
 * <li>Timeout and kill: TERM to the run's process group and to every process of its session or
 *     below its wrapper, KILL to all of them (found again) after the grace period; the result
 *     waits until they are gone, and is {@code killfailed} when one outlives KILL.</li>
 * <li>After an agent restart ({@link #recover}) a run still going is adopted (found by its
 *     wrapper's argv, verified by start time) and watched, timed and killable as before; a run that
 *     ended meanwhile is finished from the exit status in its log; only a run whose wrapper vanished without a
 *     status is reported failed for want of knowledge.</li>
 * </ul>
 * This file is over 400 lines because start, stop, watching and adoption share the one private
 * {@code Run} state and its locking; split, they would need it package-wide.
 */
final class Runner {
    /** A run's end, handed to the agent to report. */
    record Finished(long taskId, long clock, MetaDir.Done done) {
    }

    /**
     * One run: a task and the clock it was started with, ordered by both. equals and hashCode are
     * written out: a record's own go through a method handle, which costs in the agent's
     * interpreter, and keys are compared for every run at every heartbeat.
     */
    record Key(long taskId, long clock) implements Comparable<Key> {
        @Override
        public int compareTo(Key o) {
            return taskId != o.taskId ? Long.compare(taskId, o.taskId) : Long.compare(clock, o.clock);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.taskId == taskId && k.clock == clock;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(taskId) * 31 + Long.hashCode(clock);
        }
    }

    private enum Stop {
        TIMEOUT, KILL;

        String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }

    /** A running script: its wrapper and what the agent did to it. */
    private static final class Run {
        final Key key;
        final Procs.Proc wrapper;
        final CompletableFuture<Integer> exit;    // the wrapper's exit; null for an adopted run, not the agent's child
        final int timeoutSeconds;
        final Set<Procs.Proc> seen = ConcurrentHashMap.newKeySet();
        /** The timeout, cancelled when the run ends so that a finished run is not kept until then. */
        volatile ScheduledFuture<?> timeout;
        volatile Stop stop;
        volatile long stopNanos;

        Run(Key key, Procs.Proc wrapper, CompletableFuture<Integer> exit, int timeoutSeconds) {
            this.key = key;
            this.wrapper = wrapper;
            this.exit = exit;
            this.timeoutSeconds = timeoutSeconds;
        }
    }

    private final MetaDir meta;
    private final Supplier<Spawner> spawners;
    /** Made at the first start: an agent that runs nothing does not load the foreign function API (BENCHMARKS.md P4). */
    private volatile Spawner spawner;
    private final Consumer<Finished> finished;
    private final Duration grace;
    private final InstantSource clock;
    private final boolean root;
    private final String user;
    /**
     * Sorted, like {@link #starting}: whether a task has a run here is one lookup, not a scan (an
     * assignment list acks up to every run of the agent, and asks that for each ack: P5).
     */
    private final NavigableMap<Key, Run> running = new ConcurrentSkipListMap<>();
    private final Path workDir = workDir();
    /** Runs being started, and whether a kill came meanwhile; also the lock of start versus kill. */
    private final NavigableMap<Key, Boolean> starting = new TreeMap<>();
    private final ScheduledThreadPoolExecutor timers = timers();

    Runner(MetaDir meta, Supplier<Spawner> spawners, Consumer<Finished> finished, Duration grace, InstantSource clock) {
        this.meta = meta;
        this.spawners = spawners;
        this.finished = finished;
        this.grace = grace;
        this.clock = clock;
        this.user = System.getProperty("user.name");
        this.root = isRoot();
    }

    /** One thread for every run's timeout and kill grace; a cancelled timeout leaves the queue at once. */
    private static ScheduledThreadPoolExecutor timers() {
        var t = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().name("ibex-timers").daemon().factory());
        t.setRemoveOnCancelPolicy(true);
        return t;
    }

    /** Going, or about to: a start in progress counts, so a kill that arrives meanwhile is not lost. */
    boolean running(long taskId, long clock) {
        var key = new Key(taskId, clock);
        synchronized (starting) {
            return running.containsKey(key) || starting.containsKey(key);
        }
    }

    /** Whether a run of this task is going or starting here. */
    boolean hasRunOf(long taskId) {
        var first = new Key(taskId, Long.MIN_VALUE);
        synchronized (starting) {
            return hasTask(running.ceilingKey(first), taskId) || hasTask(starting.ceilingKey(first), taskId);
        }
    }

    private static boolean hasTask(Key key, long taskId) {
        return key != null && key.taskId() == taskId;
    }

    /** The runs going now, in a stable order. */
    List<Key> runningKeys() {
        return new ArrayList<>(running.keySet());
    }

    /**
     * Starts one run and returns at once: the run counts as {@link #running} from here, so it is
     * not started again by this agent; the rest happens on a thread of its own, so the runs of one
     * assignment list start side by side and a slow start delays no other. There the run's log
     * is created before anything else, so a run is never started twice for the same clock across
     * agent restarts either (an agent killed before the log was created had not started the
     * script). A run that cannot start ends failed with the reason in its stderr.
     */
    void start(MetaDir.Inputs s, long clock) {
        var spawner = spawner();
        var key = new Key(s.taskId(), clock);
        synchronized (starting) {
            starting.put(key, false);
        }
        Thread.ofVirtual().name("ibex-start-" + s.taskId()).start(() -> {
            try {
                meta.markStarted(s.taskId(), clock, this.clock.millis(), s.timeoutSeconds());
            } catch (IOException | RuntimeException e) {
                // Started before (its log exists) or the journal cannot be written: either way not now,
                // and the log, if any, is the earlier run's and is left as it is.
                Log.error("agent", "task " + s.taskId() + " clock " + clock + ": not started, its log cannot be created", e);
                synchronized (starting) {
                    starting.remove(key);
                }
                return;
            }
            try {
                launch(spawner, s, clock);
            } catch (IOException | RuntimeException e) {
                try {
                    fail(s.taskId(), clock, "ibex: cannot start the script: " + e.getMessage());
                } catch (IOException again) {
                    Log.error("agent", "task " + s.taskId() + ": cannot record that it did not start", again);
                }
            } finally {
                synchronized (starting) {
                    starting.remove(key);
                }
            }
        });
    }

    private void launch(Spawner spawner, MetaDir.Inputs s, long clock) throws IOException {
        long id = s.taskId();
        var script = meta.script(id);
        var args = Command.args(s.args());
        var account = s.account().strip();
        List<String> cmd;
        if (account.isEmpty() || account.equals(user)) {
            cmd = Command.direct(script, args);
        } else if (!root) {
            fail(id, clock, "ibex: cannot run as account '" + account + "': the agent runs as '" + user
                    + "', not root, so it can run scripts only as '" + user + "'");
            return;
        } else if (!Command.validAccountName(account)) {
            fail(id, clock, "ibex: account '" + account + "' is not a valid user name");
            return;
        } else {
            var found = Command.lookup(account);
            if (found.isEmpty()) {
                fail(id, clock, "ibex: account '" + account + "' does not exist on this host");
                return;
            }
            meta.shareScript(id, found.get().uid());
            cmd = Command.asAccount(found.get(), script, args);
        }
        var p = spawner.start(Command.wrapped(cmd, meta.runFile(id, clock)), s.stdin(), meta.stdout(id, clock),
                meta.stderr(id, clock), workDir);
        // The child exists until the agent reaps it, so its start time can be read now.
        var wrapper = Procs.read(p.pid()).orElse(new Procs.Proc(p.pid(), 0, p.pid(), p.pid(), 'R', -1));
        var run = new Run(new Key(id, clock), wrapper, p.exit(), s.timeoutSeconds());
        boolean killAsked;
        synchronized (starting) {
            running.put(run.key, run);
            killAsked = Boolean.TRUE.equals(starting.remove(run.key));
        }
        Log.info("agent", "task " + id + " clock " + clock + ": started pid " + p.pid()
                + (account.isEmpty() ? "" : " as " + account));
        if (s.timeoutSeconds() > 0) {
            run.timeout = timers.schedule(() -> stop(run, Stop.TIMEOUT, false), s.timeoutSeconds(), TimeUnit.SECONDS);
        }
        Thread.ofVirtual().name("ibex-run-" + id).start(() -> watch(run));
        if (killAsked) {
            stop(run, Stop.KILL, false);
        }
    }

    /** The spawner; a volatile read once it is made, as every start asks for it at once (P5). */
    private Spawner spawner() {
        var s = spawner;
        if (s == null) {
            synchronized (spawners) {
                s = spawner;
                if (s == null) {
                    s = spawners.get();
                    spawner = s;
                }
            }
        }
        return s;
    }

    /** Kills a run: TERM now, KILL after the grace period. */
    void kill(long taskId, long clock) {
        var key = new Key(taskId, clock);
        Run run;
        synchronized (starting) {
            run = running.get(key);
            if (run == null && starting.containsKey(key)) {
                starting.put(key, true);   // the start sees it and stops the run as soon as it exists
                return;
            }
        }
        if (run == null) {
            Log.info("agent", "task " + taskId + " clock " + clock + ": kill asked, but it is not running here");
            return;
        }
        stop(run, Stop.KILL, false);
    }

    /** Starts stopping a run (or, after a restart, carries on with a stop the last agent began). */
    private void stop(Run run, Stop why, boolean resume) {
        synchronized (run) {
            if (run.stop != null && !resume) {
                return;
            }
            run.stop = why;
            run.stopNanos = System.nanoTime();
        }
        try {
            meta.markStop(run.key.taskId(), run.key.clock(), why.word());
        } catch (IOException e) {
            Log.warn("agent", "task " + run.key.taskId() + ": cannot record the " + why.word() + ": " + e.getMessage());
        }
        var tree = Procs.tree(run.wrapper.pid());
        run.seen.addAll(tree);
        Log.info("agent", "task " + run.key.taskId() + " clock " + run.key.clock() + ": " + why.word() + ", TERM to "
                + tree.size() + " process(es)");
        Procs.signal("TERM", run.wrapper.pid(), tree);
        timers.schedule(() -> {
            var all = new ArrayList<>(Procs.tree(run.wrapper.pid()));
            run.seen.addAll(all);
            all.addAll(run.seen);
            Procs.signal("KILL", run.wrapper.pid(), all);
        }, grace.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** Waits for the wrapper to end, then records the result. */
    private void watch(Run run) {
        int wrapperCode = -1;
        MetaDir.Done done = null;
        try {
            if (run.exit != null) {
                wrapperCode = exitOf(run);
            }
            // An adopted run is not the agent's child: watched through /proc (so is one that waitpid lost).
            while (wrapperCode == -1 && Procs.alive(run.wrapper)) {
                Thread.sleep(200);
            }
            var survivors = run.stop == null ? List.<Procs.Proc>of() : awaitGone(run);
            done = complete(run.key, exitStatus(run.key), run.stop, run.timeoutSeconds, survivors, wrapperCode);
        } catch (IOException | RuntimeException e) {
            Log.error("agent", "task " + run.key.taskId() + ": cannot record the result", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            var timeout = run.timeout;
            if (timeout != null) {
                timeout.cancel(false);
            }
            running.remove(run.key);
        }
        if (done != null) {
            finished.accept(new Finished(run.key.taskId(), run.key.clock(), done));
        }
    }

    /** The script's exit status as its wrapper logged it; empty while it runs or if none was logged. */
    private OptionalInt exitStatus(Key key) throws IOException {
        return meta.run(key.taskId(), key.clock()).map(MetaDir.Run::exit).orElse(OptionalInt.empty());
    }

    /** The wrapper's exit status, or -1 when waiting for it failed (the run's log still has the script's). */
    private static int exitOf(Run run) {
        try {
            return run.exit.join();
        } catch (CompletionException e) {
            Log.warn("agent", "task " + run.key.taskId() + ": cannot wait for pid " + run.wrapper.pid() + ": " + e.getCause());
            return -1;
        }
    }

    /**
     * After a stop: waits for every process the stop saw (and the session) to go; what outlives KILL
     * is returned. Until the grace period is over, dead processes are also given time to be reaped,
     * so that "killed" means gone from the process table (an orphan is reaped by init, which some
     * containers do only every few seconds); a result never waits for reaping past the grace.
     */
    private List<Procs.Proc> awaitGone(Run run) throws InterruptedException {
        long deadline = run.stopNanos + grace.toNanos() + Duration.ofSeconds(2).toNanos();
        long reapDeadline = run.stopNanos + grace.toNanos();
        while (true) {
            var alive = new ArrayList<>(Procs.tree(run.wrapper.pid()));
            run.seen.stream().filter(Procs::alive).filter(p -> !alive.contains(p)).forEach(alive::add);
            long now = System.nanoTime();
            if (!alive.isEmpty()) {
                if (now > deadline) {
                    return alive;
                }
            } else if (run.seen.stream().noneMatch(Procs::present)) {
                return alive;
            } else if (now > reapDeadline) {
                return alive;
            }
            Thread.sleep(50);
        }
    }

    /** Writes a run's result: the status from why it ended and its exit status, a note where users read. */
    private MetaDir.Done complete(Key key, OptionalInt code, Stop stop, int timeoutSeconds, List<Procs.Proc> survivors,
                                  int wrapperCode) throws IOException {
        HostStatus status;
        String note;
        var pids = survivors.stream().map(p -> Long.toString(p.pid())).toList();
        if (stop == Stop.TIMEOUT) {
            status = HostStatus.TIMEOUT;
            note = "ibex: timed out after " + timeoutSeconds + " s; the script's processes were killed"
                    + (pids.isEmpty() ? "" : ", but pids " + String.join(" ", pids) + " outlived KILL");
        } else if (stop == Stop.KILL) {
            status = pids.isEmpty() ? HostStatus.KILLED : HostStatus.KILLFAILED;
            note = pids.isEmpty() ? "ibex: killed on request" : "ibex: kill asked; pids " + String.join(" ", pids) + " outlived KILL";
        } else if (code.isEmpty()) {
            status = HostStatus.FAILED;
            note = "ibex: the script's exit status is unknown: its wrapper process ended"
                    + (wrapperCode > 128 ? " by signal " + (wrapperCode - 128) : " without writing it");
        } else if (code.getAsInt() == 0) {
            status = HostStatus.SUCCESS;
            note = null;
        } else {
            int c = code.getAsInt();
            status = HostStatus.FAILED;
            note = c > 128 && c < 160 ? "ibex: the script was killed by signal " + (c - 128) : "ibex: exit status " + c;
        }
        if (note != null) {
            appendNote(meta.stderr(key.taskId(), key.clock()), note);
        }
        var done = new MetaDir.Done(status, code.orElse(-1));
        meta.markDone(key.taskId(), key.clock(), done);
        Log.info("agent", "task " + key.taskId() + " clock " + key.clock() + ": " + status + " (exit " + code.orElse(-1) + ")");
        return done;
    }

    /**
     * After a restart, before the first connection: every run that started and has no result was
     * going when the last agent stopped. Never started again; adopted, finished or failed.
     */
    void recover() throws IOException {
        Map<String, Procs.Proc> wrappers = null;
        for (var r : meta.runs()) {
            var key = new Key(r.taskId(), r.clock());
            var log = meta.run(key.taskId(), key.clock());
            if (log.isEmpty() || log.get().done().isPresent() || running.containsKey(key)) {
                continue;
            }
            if (wrappers == null) {
                wrappers = wrappers();
            }
            var run = log.get();
            var wrapper = wrappers.get(meta.runFile(key.taskId(), key.clock()).toString());
            var stop = run.stop().map(w -> w.equals("timeout") ? Stop.TIMEOUT : Stop.KILL);
            if (wrapper != null) {
                adopt(key, wrapper, run, stop.orElse(null));
            } else if (run.exit().isPresent()) {
                complete(key, run.exit(), stop.orElse(null), run.timeoutSeconds(), List.of(), -1);
                Log.info("agent", "task " + key.taskId() + " clock " + key.clock() + ": ended while the agent was away");
            } else if (run.wrapperBegan()) {
                fail(key.taskId(), key.clock(), "ibex: the agent restarted while this script ran, and its exit status"
                        + " was never written (its wrapper was killed); the result is unknown");
            } else {
                fail(key.taskId(), key.clock(), "ibex: the agent stopped while starting this script; it did not run");
            }
        }
    }

    /** Our wrappers alive on this host, by the run's log in their argv. */
    private static Map<String, Procs.Proc> wrappers() {
        var out = new HashMap<String, Procs.Proc>();
        for (var p : Procs.all()) {
            if (!p.exited() && p.sid() == p.pid()) {
                var runFile = Command.runFileOf(Procs.cmdline(p.pid()));
                // The argv was read after the start time: if the process is still that one, it is ours.
                if (runFile.isPresent() && Procs.alive(p)) {
                    out.put(runFile.get(), p);
                }
            }
        }
        return out;
    }

    private void adopt(Key key, Procs.Proc wrapper, MetaDir.Run log, Stop stop) {
        int timeoutSeconds = log.timeoutSeconds();
        var run = new Run(key, wrapper, null, timeoutSeconds);
        running.put(key, run);
        Log.info("agent", "task " + key.taskId() + " clock " + key.clock() + ": still running after the restart as pid "
                + wrapper.pid() + "; adopted");
        if (stop != null) {
            stop(run, stop, true);
        } else if (timeoutSeconds > 0) {
            long left = log.startedAt() + timeoutSeconds * 1000L - clock.millis();
            run.timeout = timers.schedule(() -> stop(run, Stop.TIMEOUT, false), Math.max(0, left), TimeUnit.MILLISECONDS);
        }
        Thread.ofVirtual().name("ibex-run-" + key.taskId()).start(() -> watch(run));
    }

    /** Ends a run that could not start (or whose end cannot be known), with the reason where users read it. */
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
        var last = Output.read(f, Files.size(f) - 1, 1);
        return last.length == 1 && last[0] == '\n';
    }

    /** The agent user's home, as the original ran scripts there; "/" when it has none (nobody's is /nonexistent). */
    private static Path workDir() {
        var home = Path.of(System.getProperty("user.home", "/"));
        return Files.isDirectory(home) ? home : Path.of("/");
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
