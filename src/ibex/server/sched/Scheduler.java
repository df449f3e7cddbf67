package ibex.server.sched;

import ibex.core.Counters;
import ibex.core.HostChange;
import ibex.core.HostStatus;
import ibex.core.Log;
import ibex.core.TaskSpec;
import ibex.store.ClusterStore;
import ibex.store.DispatchStore;
import ibex.store.TaskStore;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The scheduling loop. Every tick it records this server alive, takes over the tasks of servers
 * that stopped beating, takes unowned tasks (compare-and-set, so two servers never schedule one
 * task), and applies the {@link Planner}'s plan to each task it owns. It also runs at once when
 * woken for a task (created, a result stored, an action taken), so a task starts within
 * milliseconds; such a pass plans only the tasks it was woken for. Planning every owned task on
 * every wake made each create and each stored result cost a pass that grew with the tasks in
 * flight, a state query and more for each of them (BENCHMARKS.md P5: 300 ms to 1.5 s passes for
 * 60 one-host tasks). What no wake reports (a result stored by another server, a timeout, an
 * absent agent) is found at the next tick, as before.
 * Each pass catches and logs its failures and carries on.
 */
public final class Scheduler implements AutoCloseable {
    /** A server whose health row is older than this is dead; its tasks are taken over. */
    static final Duration DEAD_AFTER = Duration.ofSeconds(10);
    private static final int PAGE = 1000;
    /**
     * How often a pass looks at every unowned task, not only the new ones. Nothing leaves a
     * started task unowned any more (a creation or a start action is owned by the server that
     * takes it, a dead server's tasks are taken over), so this is a safety net; the look walks
     * every paused task, which once a second cost a tenth of a core with 300,000 of them (P6).
     */
    private static final Duration SWEEP_EVERY = Duration.ofMinutes(1);
    private static final Duration RETENTION_EVERY = Duration.ofHours(1);
    private static final int RETENTION_BATCH = 50;

    /** Timing of the loop and its give-up rules. */
    public record Settings(Duration tick, Duration backstop, Duration noAgentGrace, int retentionDays) {
    }

    private final DispatchStore store;
    private final ClusterStore cluster;
    private final String name;
    private final InstantSource clock;
    private final Consumer<List<HostChange>> changes;
    private final Settings settings;
    private final Counters counters;
    private final Semaphore wake = new Semaphore(0);
    /** Tasks woken for since the last pass began. */
    private final Set<Long> woken = ConcurrentHashMap.newKeySet();
    /** Per owned task: runs started up to this clock were already checked for a present agent. */
    private final Map<Long, Long> deliveryChecked = new HashMap<>();
    private volatile boolean running = true;
    private long lastBeat;
    /** The newest orphan a pass looked at; passes between sweeps look only at newer ones. */
    private long orphanSeen;
    private long lastSweep;
    private long lastRetention;
    private Thread thread;

    public Scheduler(DispatchStore store, ClusterStore cluster, String name, InstantSource clock,
                     Consumer<List<HostChange>> changes, Settings settings, Counters counters) {
        this.store = store;
        this.cluster = cluster;
        this.name = name;
        this.clock = clock;
        this.changes = changes;
        this.settings = settings;
        this.counters = counters;
    }

    public String name() {
        return name;
    }

    public void start() {
        cluster.beat(name, clock.millis());
        thread = Thread.ofPlatform().name("ibex-scheduler").daemon().start(this::loop);
    }

    /**
     * The first step of a task being created, stored with it: a started task is owned by this
     * server from the start and its first batch runs at once, so its scripts are pushed when the
     * creation commits, without waiting for a pass (BENCHMARKS.md P2, P3). A paused task stays
     * unowned, so paused tasks cost the passes nothing.
     */
    public TaskStore.Start firstStep(TaskSpec spec) {
        var plan = Planner.first(spec);
        if (plan.dispatch().isEmpty()) {
            return TaskStore.Start.waiting(spec);
        }
        return new TaskStore.Start(name, plan.dispatch(), plan.setAction().orElse(spec.action()));
    }

    /**
     * Asks for a pass over this task as soon as possible (a new task is claimed first, if no
     * other server has it); many wakes fold into one pass.
     */
    public void wake(long taskId) {
        woken.add(taskId);
        if (wake.availablePermits() == 0) {
            wake.release();
        }
    }

    private void loop() {
        while (running) {
            try {
                wake.tryAcquire(settings.tick().toMillis(), TimeUnit.MILLISECONDS);
                wake.drainPermits();
                if (running) {
                    pass();
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                Log.error("sched", "scheduling pass failed, retrying next tick", e);
            }
        }
    }

    /** One pass: beat, take over the dead, claim orphans; then schedule every owned task (a tick) or the woken ones. */
    void pass() {
        // Taken before anything is read: a wake that comes during the pass gets a pass of its own.
        var due = new TreeSet<Long>();
        for (var it = woken.iterator(); it.hasNext(); ) {
            due.add(it.next());
            it.remove();
        }
        long now = clock.millis();
        boolean tick = now - lastBeat >= settings.tick().toMillis();
        if (tick) {
            lastBeat = now;
            cluster.beat(name, now);
            for (var dead : cluster.deadSchedulers(now - DEAD_AFTER.toMillis())) {
                if (!dead.equals(name)) {
                    int taken = cluster.takeOver(dead, name);
                    Log.warn("sched", "server " + dead + " stopped beating; took over " + taken + " task(s)");
                }
            }
        }
        // Every pass looks at the orphans created since the last one; once a minute, at every orphan
        // that is not paused (one left behind). So paused tasks, however many, cost no query per
        // pass: a burst of creations wakes many passes.
        List<Long> orphans;
        if (now - lastSweep >= SWEEP_EVERY.toMillis()) {
            lastSweep = now;
            orphans = store.orphans(PAGE);
        } else {
            var page = store.orphansAfter(orphanSeen, PAGE);
            orphans = page.orphans();
            orphanSeen = Math.max(orphanSeen, page.last());
        }
        // Both queries leave paused tasks out; one paused since is claimed and then planned as paused.
        for (long id : orphans) {
            orphanSeen = Math.max(orphanSeen, id);
            if (store.claim(id, "", name)) {
                Log.debug("sched", "task " + id + " claimed by " + name);
                due.add(id);
            }
        }
        // One query for the ids: ownership also comes with a creation (firstStep) or a takeover.
        var owned = new HashSet<>(store.owned(name, 100_000));
        if (tick) {
            deliveryChecked.keySet().retainAll(owned);
            due.addAll(owned);
        }
        // A task another server owns is that server's to plan, whatever woke this one for it.
        due.retainAll(owned);
        for (long id : due) {
            try {
                schedule(id, now);
            } catch (RuntimeException e) {
                Log.error("sched", "task " + id + ": scheduling failed", e);
            }
        }
        if (settings.retentionDays() > 0 && now - lastRetention >= RETENTION_EVERY.toMillis()) {
            lastRetention = now;
            retention(now);
        }
    }

    private void schedule(long id, long now) {
        var found = store.state(id);
        if (found.isEmpty()) {
            return;
        }
        var state = found.get();
        giveUp(state, now);
        int room = Planner.room(state);
        var head = room > 0 ? store.waiting(id, room) : List.<String>of();
        var plan = Planner.plan(state, head);
        if (plan.finish()) {
            if (store.finishIfIdle(id)) {
                deliveryChecked.remove(id);
                Log.info("sched", "task " + id + " done");
            }
            return;
        }
        if (!plan.dispatch().isEmpty()) {
            var moved = store.dispatch(id, plan.dispatch(), now, plan.setAction());
            var started = new ArrayList<HostChange>(moved.size());
            for (var h : moved) {
                started.add(HostChange.start(h, id, now));
            }
            changes.accept(started);
            Log.debug("sched", "task " + id + ": started " + moved.size() + " host(s)");
        } else if (plan.setAction().isPresent()) {
            store.setAction(id, plan.setAction().get(), now);
        }
        plan.setAction().ifPresent(a -> Log.info("sched", "task " + id + " paused"
                + (plan.dispatch().isEmpty() ? ": failures exceed tolerance " + state.tolerance() : " behind a pause host")));
    }

    /**
     * Ends runs nobody will report: a host whose agent is not connected when its run is
     * {@code noAgentGrace} old fails at once (nobody waits for the task timeout), and a run
     * silent past its timeout plus the backstop (its agent vanished mid-run) times out.
     */
    private void giveUp(DispatchStore.TaskState state, long now) {
        var ended = new ArrayList<HostChange>();
        long deadline = now - settings.noAgentGrace().toMillis();
        long from = deliveryChecked.getOrDefault(state.id(), deadline - 60_000);
        if (deadline > from && state.count(HostStatus.RUNNING) > 0) {
            // No run started at or before the deadline: none is due for the check yet.
            var runs = state.oldestPending() <= deadline ? store.running(state.id(), from, deadline) : List.<DispatchStore.Run>of();
            if (!runs.isEmpty()) {
                var presence = cluster.presence(runs.stream().map(DispatchStore.Run::host).toList());
                var live = new HashSet<>(cluster.liveSchedulers(now - DEAD_AFTER.toMillis()));
                for (var run : runs) {
                    var p = presence.get(run.host());
                    boolean present = p != null && ((p.connected() && live.contains(p.server())) || p.seen() >= run.clock());
                    if (!present && store.giveUp(state.id(), run.host(), run.clock(), HostStatus.FAILED, noAgent(run.host(), p), now)) {
                        ended.add(HostChange.drop(run.host(), state.id()));
                        Log.warn("sched", "task " + state.id() + " host " + run.host() + ": no agent connected, failed");
                    }
                }
            }
            deliveryChecked.put(state.id(), deadline);
        }
        long silentBefore = now - state.timeout() * 1000L - settings.backstop().toMillis();
        var overdue = state.oldestPending() < silentBefore ? store.overdue(state.id(), silentBefore) : List.<DispatchStore.Run>of();
        for (var o : overdue) {
            if (store.giveUp(state.id(), o.host(), o.clock(), HostStatus.TIMEOUT, "ibex: no result from the agent "
                    + (state.timeout() + settings.backstop().toSeconds()) + " s after the start; marked timeout by the server", now)) {
                ended.add(HostChange.drop(o.host(), state.id()));
                counters.inc(Counters.Counter.TIMEOUTS);
                Log.warn("sched", "task " + state.id() + " host " + o.host() + ": no result, marked timeout");
            }
        }
        if (!ended.isEmpty()) {
            changes.accept(ended);
        }
    }

    private String noAgent(String host, ClusterStore.Presence p) {
        var waited = settings.noAgentGrace().toSeconds();
        return p == null
                ? "ibex: no agent has ever connected as host '" + host + "' (waited " + waited + " s); check the agent's [Heartbeat] Host"
                : "ibex: no agent is connected as host '" + host + "' (waited " + waited + " s); it was last seen "
                        + Instant.ofEpochMilli(p.seen()) + " on server " + p.server();
    }

    private void retention(long now) {
        long before = now - settings.retentionDays() * 86_400_000L;
        int total = 0;
        int n;
        do {
            n = cluster.deleteFinished(before, RETENTION_BATCH);
            total += n;
        } while (n == RETENTION_BATCH && running);
        int log = cluster.pruneLog(now - Duration.ofHours(1).toMillis());
        if (total > 0 || log > 0) {
            Log.info("sched", "retention: deleted " + total + " finished task(s) older than " + settings.retentionDays()
                    + " days, " + log + " old change-log row(s)");
        }
    }

    @Override
    public void close() {
        running = false;
        wake.release();
        if (thread != null) {
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
