package ibex.server.sched;

import ibex.core.HostChange;
import ibex.core.Log;
import ibex.store.DispatchStore;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The scheduling loop: takes unowned tasks (compare-and-set, so several servers never schedule
 * one task twice), then applies the {@link Planner}'s plan to each task it owns. It runs every
 * tick and at once when woken (a task created, a result stored, an action taken), so a new task
 * starts within milliseconds. Each pass catches and logs its failures and carries on.
 */
public final class Scheduler implements AutoCloseable {
    private static final int PAGE = 1000;
    private final DispatchStore store;
    private final String name;
    private final InstantSource clock;
    private final Consumer<List<HostChange>> changes;
    private final Duration tick;
    private final Duration backstop;
    private final Semaphore wake = new Semaphore(0);
    private volatile boolean running = true;
    private Thread thread;

    /**
     * @param backstop how long past a task's timeout a run may stay unreported before the server
     *                 marks it timeout itself (the agent enforces timeouts; this covers a vanished agent)
     */
    public Scheduler(DispatchStore store, String name, InstantSource clock, Consumer<List<HostChange>> changes,
                     Duration tick, Duration backstop) {
        this.store = store;
        this.name = name;
        this.clock = clock;
        this.changes = changes;
        this.tick = tick;
        this.backstop = backstop;
    }

    public String name() {
        return name;
    }

    public void start() {
        thread = Thread.ofPlatform().name("ibex-scheduler").daemon().start(this::loop);
    }

    /** Asks for a pass as soon as possible; many wakes fold into one pass. */
    public void wake() {
        if (wake.availablePermits() == 0) {
            wake.release();
        }
    }

    private void loop() {
        while (running) {
            try {
                wake.tryAcquire(tick.toMillis(), TimeUnit.MILLISECONDS);
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

    /** One pass: claim orphans, then schedule every owned task. */
    void pass() {
        for (long id : store.orphans(PAGE)) {
            var state = store.state(id);
            if (state.isPresent() && state.get().action() != ibex.core.TaskAction.PAUSE && store.claim(id, "", name)) {
                Log.debug("sched", "task " + id + " claimed by " + name);
            }
        }
        for (long id : store.owned(name, 100_000)) {
            try {
                schedule(id);
            } catch (RuntimeException e) {
                Log.error("sched", "task " + id + ": scheduling failed", e);
            }
        }
    }

    void schedule(long id) {
        var found = store.state(id);
        if (found.isEmpty()) {
            return;
        }
        var state = found.get();
        long now = clock.millis();
        timeouts(state, now);
        int room = Planner.room(state);
        var head = room > 0 ? store.waiting(id, room) : List.<String>of();
        var plan = Planner.plan(state, head);
        if (plan.finish()) {
            if (store.finishIfIdle(id)) {
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
                + (plan.dispatch().isEmpty() ? ": failures exceed tolerance " + state.tolerance() : " behind pause host")));
    }

    private void timeouts(DispatchStore.TaskState state, long now) {
        long before = now - state.timeout() * 1000L - backstop.toMillis();
        var dropped = new ArrayList<HostChange>();
        for (var o : store.overdue(state.id(), before)) {
            if (store.timeout(state.id(), o.host(), o.clock(),
                    "ibex: no result from the agent " + (state.timeout() + backstop.toSeconds()) + " s after the start; marked timeout by the server")) {
                dropped.add(HostChange.drop(o.host(), state.id()));
                Log.warn("sched", "task " + state.id() + " host " + o.host() + ": no result, marked timeout");
            }
        }
        if (!dropped.isEmpty()) {
            changes.accept(dropped);
        }
    }

    @Override
    public void close() {
        running = false;
        wake();
        if (thread != null) {
            try {
                thread.join(2000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** For tests and callers that need the result now: run one pass on the caller's thread. */
    public void runOnce() {
        pass();
    }

}
