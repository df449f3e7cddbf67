package ibex.server.sched;

import ibex.core.HostStatus;
import ibex.core.TaskAction;
import ibex.core.TaskSpec;
import ibex.store.DispatchStore.TaskState;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The scheduler's decisions as pure functions (reference §4.2), so they are tested without a
 * database: how many hosts a task may start now, which ones, and whether it pauses or ends.
 */
final class Planner {
    private Planner() {
        throw new AssertionError();
    }

    /** What to do with one task now. */
    record Plan(List<String> dispatch, Optional<TaskAction> setAction, boolean finish) {
        static final Plan NOTHING = new Plan(List.of(), Optional.empty(), false);
        static final Plan FINISH = new Plan(List.of(), Optional.empty(), true);
        static final Plan PAUSE = new Plan(List.of(), Optional.of(TaskAction.PAUSE), false);
    }

    /** How many waiting hosts the next step may look at: the free room in the batch window. */
    static int room(TaskState t) {
        int waiting = t.count(HostStatus.WAITING);
        if (waiting == 0 || t.action() != TaskAction.START || overTolerance(t)) {
            return 0;
        }
        if (t.batch() == 0) {
            return waiting;
        }
        int doing = t.count(HostStatus.RUNNING) + t.count(HostStatus.KILLING);
        return Math.max(0, Math.min(waiting, t.batch() - doing));
    }

    /**
     * The plan, given the first {@link #room} waiting hosts in creation order. A host in the pause
     * list still starts, and the task pauses behind it (the original's documented behaviour).
     */
    static Plan plan(TaskState t, List<String> waitingHead) {
        if (t.count(HostStatus.WAITING) == 0) {
            boolean pending = t.count(HostStatus.RUNNING) + t.count(HostStatus.KILLING) > 0;
            return pending ? Plan.NOTHING : Plan.FINISH;
        }
        if (t.action() != TaskAction.START) {
            return Plan.NOTHING;
        }
        if (overTolerance(t)) {
            return Plan.PAUSE;
        }
        int room = room(t);
        var take = waitingHead.subList(0, Math.min(room, waitingHead.size()));
        var pauseHosts = new HashSet<>(Arrays.asList(t.pause().split(",")));
        pauseHosts.remove("");
        for (int i = 0; i < take.size(); i++) {
            if (pauseHosts.contains(take.get(i))) {
                return new Plan(List.copyOf(take.subList(0, i + 1)), Optional.of(TaskAction.PAUSE), false);
            }
        }
        return take.isEmpty() ? Plan.NOTHING : new Plan(List.copyOf(take), Optional.empty(), false);
    }

    /** The plan for a task being created: every host waits, in the order given. */
    static Plan first(TaskSpec spec) {
        var fresh = new TaskState(0, spec.action(), spec.batch(), spec.tolerance(), spec.timeout(), spec.pause(),
                Map.of(HostStatus.WAITING, spec.hosts().size()), Long.MAX_VALUE);
        return plan(fresh, spec.hosts());
    }

    /** Failed, timeout and killfailed hosts beyond the tolerance pause the task. */
    static boolean overTolerance(TaskState t) {
        int bad = 0;
        for (var s : HostStatus.values()) {
            if (s.countsAgainstTolerance()) {
                bad += t.count(s);
            }
        }
        return bad > t.tolerance();
    }
}
