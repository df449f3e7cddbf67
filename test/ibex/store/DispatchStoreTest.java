package ibex.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.core.Assignment;
import ibex.core.HostAction;
import ibex.core.HostStatus;
import ibex.core.TaskAction;
import ibex.core.TaskHost;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class DispatchStoreTest {
    private static final String BOTH = "ibex.store.TestDatabases#databases";

    @ParameterizedTest
    @MethodSource(BOTH)
    void newTask_isAnOrphan_untilOneSchedulerClaimsIt(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(new TaskStore(db), Tasks.spec("h1"), Tasks.now());
            assertEquals(List.of(id), dispatch.orphans(10));
            assertTrue(dispatch.claim(id, "", "s1:20090"));
            assertFalse(dispatch.claim(id, "", "s2:20090"), "the second claim of an orphan loses");
            assertEquals(List.of(), dispatch.orphans(10));
            assertEquals(List.of(id), dispatch.owned("s1:20090", 10));
            assertEquals(List.of(), dispatch.owned("s2:20090", 10));
            assertTrue(dispatch.claim(id, "s1:20090", "s2:20090"), "takeover from a named owner");
            assertEquals(List.of(id), dispatch.owned("s2:20090", 10));
            assertFalse(dispatch.claim(id + 1, "", "s1:20090"), "an unknown task cannot be claimed");
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void state_givesDefinitionActionAndCountsByStatus(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var spec = ibex.core.TaskSpec.from(new ibex.core.TaskSpec.Request("t", "root", ibex.core.TaskSpec.Amount.count(2), ibex.core.TaskSpec.Amount.count(1), 60, "h2", "true", "",
                    "", "start", "alice", List.of("h1", "h2", "h3")));
            long id = Tasks.create(new TaskStore(db), spec, Tasks.now());
            var dispatch = Tasks.dispatch(db);
            dispatch.dispatch(id, List.of("h1"), 500, Optional.empty());
            var s = dispatch.state(id).orElseThrow();
            assertEquals(new DispatchStore.TaskState(id, TaskAction.START, 2, 1, 60, "h2",
                    Map.of(HostStatus.WAITING, 2, HostStatus.RUNNING, 1), 500), s);
            assertEquals(0, s.count(HostStatus.FAILED));
            assertEquals(Optional.empty(), dispatch.state(id + 1));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void dispatch_ofManyHosts_movesEveryWaitingOne_andNotOneIgnoredMeanwhile(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            int n = DispatchStore.ALL_AT_ONCE + 20;
            var hosts = java.util.stream.IntStream.rangeClosed(1, n).mapToObj(i -> "b" + i).toList();
            long id = Tasks.create(tasks, Tasks.spec(hosts.toArray(String[]::new)), Tasks.now());
            var planned = dispatch.waiting(id, n);
            assertEquals(hosts, planned);
            Tasks.actions(db).hostAction(id, "b7", HostAction.IGNORE, 1, Tasks.AUDIT);   // after the plan, before the dispatch
            var expected = hosts.stream().filter(h -> !h.equals("b7")).toList();
            assertEquals(expected, dispatch.dispatch(id, planned, 900, Optional.empty()));
            assertEquals(List.of(new Assignment(id, 900, Assignment.Kind.START)), Tasks.assignments(dispatch, "b1"));
            assertEquals(List.of(), Tasks.assignments(dispatch, "b7"));
            assertEquals(Map.of(HostStatus.RUNNING, n - 1, HostStatus.IGNORED, 1), dispatch.state(id).orElseThrow().counts());

            long all = Tasks.create(tasks, Tasks.spec(hosts.toArray(String[]::new)), Tasks.now());
            assertEquals(hosts, dispatch.dispatch(all, dispatch.waiting(all, n), 950, Optional.empty()), "every waiting host: one UPDATE");
            assertEquals(Map.of(HostStatus.RUNNING, n), dispatch.state(all).orElseThrow().counts());
            assertEquals(950, dispatch.state(all).orElseThrow().oldestPending());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void dispatch_movesOnlyWaitingHosts_inOrder_andCanPauseTheTask(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(tasks, Tasks.spec("h1", "h2", "h3", "h4"), Tasks.now());
            Tasks.actions(db).hostAction(id, "h2", HostAction.IGNORE, 1, Tasks.AUDIT);
            assertEquals(List.of("h1", "h3"), dispatch.waiting(id, 2));

            assertEquals(List.of("h1", "h3"), dispatch.dispatch(id, List.of("h1", "h2", "h3"), 700, Optional.of(TaskAction.PAUSE)));
            assertEquals(Optional.of(TaskAction.PAUSE), tasks.action(id));
            assertEquals(List.of(HostStatus.RUNNING, HostStatus.IGNORED, HostStatus.RUNNING, HostStatus.WAITING),
                    tasks.hosts(id, TaskStore.Output.NONE).stream().map(TaskHost::status).toList());
            assertEquals(List.of(), dispatch.dispatch(id, List.of("h1"), 800, Optional.empty()), "running is not waiting");
            assertEquals(List.of(new Assignment(id, 700, Assignment.Kind.START)), Tasks.assignments(dispatch, "h1"));
            assertEquals(List.of(), Tasks.assignments(dispatch, "h2"));
            assertEquals(List.of(), Tasks.assignments(dispatch, "h4"));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void assignments_listRunningAsStartAndKillingAsKill_acrossTasks(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long a = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            long b = Tasks.create(tasks, Tasks.spec("h1", "h2"), Tasks.now());
            dispatch.dispatch(a, List.of("h1"), 100, Optional.empty());
            dispatch.dispatch(b, List.of("h1", "h2"), 200, Optional.empty());
            Tasks.actions(db).hostAction(b, "h1", HostAction.KILL, 300, Tasks.AUDIT);
            assertEquals(List.of(new Assignment(a, 100, Assignment.Kind.START), new Assignment(b, 200, Assignment.Kind.KILL)),
                    Tasks.assignments(dispatch, "h1"));
            assertEquals(List.of(new Assignment(b, 200, Assignment.Kind.START)), Tasks.assignments(dispatch, "h2"));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void record_withTheRunsClock_storesStatusAndOutput(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(tasks, Tasks.spec("h1", "h2"), Tasks.now());
            dispatch.dispatch(id, List.of("h1", "h2"), 1000, Optional.empty());
            var ok = new DispatchStore.Result(id, "h1", 1000, HostStatus.SUCCESS, "out\n", "");
            var bad = new DispatchStore.Result(id, "h2", 1000, HostStatus.FAILED, "", "boom\nibex: exit status 3\n");
            assertEquals(List.of(ok, bad), dispatch.record(List.of(ok, bad)));
            assertEquals(List.of(new TaskHost(id, "h1", HostStatus.SUCCESS, "out\n", ""),
                    new TaskHost(id, "h2", HostStatus.FAILED, "", "boom\nibex: exit status 3\n")),
                    tasks.hosts(id, TaskStore.Output.BOTH));
            assertEquals(List.of(), Tasks.assignments(dispatch, "h1"));
            assertEquals(List.of(), dispatch.record(List.of()));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void record_withStaleClock_isIgnored(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            dispatch.dispatch(id, List.of("h1"), 1000, Optional.empty());
            Tasks.actions(db).hostAction(id, "h1", HostAction.REDO, 2000, Tasks.AUDIT);
            var stale = new DispatchStore.Result(id, "h1", 1000, HostStatus.FAILED, "old", "old");
            assertEquals(List.of(), dispatch.record(List.of(stale)));
            assertEquals(new TaskHost(id, "h1", HostStatus.RUNNING, "", ""), tasks.host(id, "h1", TaskStore.Output.BOTH).orElseThrow());
            var current = new DispatchStore.Result(id, "h1", 2000, HostStatus.SUCCESS, "new", "");
            assertEquals(List.of(current), dispatch.record(List.of(stale, current)));
            assertEquals(new TaskHost(id, "h1", HostStatus.SUCCESS, "new", ""), tasks.host(id, "h1", TaskStore.Output.BOTH).orElseThrow());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void record_twice_changesNothingTheSecondTime(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            dispatch.dispatch(id, List.of("h1"), 1000, Optional.empty());
            var first = new DispatchStore.Result(id, "h1", 1000, HostStatus.SUCCESS, "first", "");
            assertEquals(List.of(first), dispatch.record(List.of(first)));
            var again = new DispatchStore.Result(id, "h1", 1000, HostStatus.FAILED, "second", "x");
            assertEquals(List.of(), dispatch.record(List.of(again)));
            assertEquals(new TaskHost(id, "h1", HostStatus.SUCCESS, "first", ""), tasks.host(id, "h1", TaskStore.Output.BOTH).orElseThrow());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void record_forAnIgnoredHost_leavesItIgnored(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            dispatch.dispatch(id, List.of("h1"), 1000, Optional.empty());
            Tasks.actions(db).hostAction(id, "h1", HostAction.IGNORE, 1500, Tasks.AUDIT);
            var late = new DispatchStore.Result(id, "h1", 1000, HostStatus.SUCCESS, "out", "");
            assertEquals(List.of(), dispatch.record(List.of(late)));
            assertEquals(new TaskHost(id, "h1", HostStatus.IGNORED, "", ""), tasks.host(id, "h1", TaskStore.Output.BOTH).orElseThrow());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void overdueRun_timesOut_andItsLateResultIsStillAccepted(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(tasks, Tasks.spec("h1", "h2"), Tasks.now());
            dispatch.dispatch(id, List.of("h1"), 1000, Optional.empty());
            dispatch.dispatch(id, List.of("h2"), 5000, Optional.empty());
            assertEquals(List.of(new DispatchStore.Run("h1", 1000)), dispatch.overdue(id, 2000));
            assertTrue(dispatch.giveUp(id, "h1", 1000, HostStatus.TIMEOUT, "ibex: no result", 3000));
            assertFalse(dispatch.giveUp(id, "h1", 1000, HostStatus.TIMEOUT, "ibex: no result", 3000), "already timed out");
            assertFalse(dispatch.giveUp(id, "h2", 1000, HostStatus.TIMEOUT, "x", 3000), "another run's clock");
            assertEquals(new TaskHost(id, "h1", HostStatus.TIMEOUT, "", "ibex: no result"), tasks.host(id, "h1", TaskStore.Output.BOTH).orElseThrow());
            assertEquals(List.of(), dispatch.overdue(id, 2000));
            assertEquals(List.of(), Tasks.assignments(dispatch, "h1"));

            var late = new DispatchStore.Result(id, "h1", 1000, HostStatus.SUCCESS, "finally", "");
            assertEquals(List.of(late), dispatch.record(List.of(late)));
            assertEquals(new TaskHost(id, "h1", HostStatus.SUCCESS, "finally", ""), tasks.host(id, "h1", TaskStore.Output.BOTH).orElseThrow());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void finishIfIdle_endsTheTaskOnlyWhenNothingWaitsRunsOrKills(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(tasks, Tasks.spec("h1", "h2"), Tasks.now());
            assertFalse(dispatch.finishIfIdle(id), "hosts are waiting");
            dispatch.dispatch(id, List.of("h1", "h2"), 1000, Optional.empty());
            dispatch.record(List.of(new DispatchStore.Result(id, "h1", 1000, HostStatus.SUCCESS, "", "")));
            assertFalse(dispatch.finishIfIdle(id), "h2 is running");
            Tasks.actions(db).hostAction(id, "h2", HostAction.KILL, 1100, Tasks.AUDIT);
            assertFalse(dispatch.finishIfIdle(id), "h2 is killing");
            dispatch.record(List.of(new DispatchStore.Result(id, "h2", 1000, HostStatus.KILLED, "", "")));
            assertEquals(Optional.of(TaskAction.START), tasks.action(id));

            assertTrue(dispatch.finishIfIdle(id));
            assertEquals(Optional.empty(), tasks.action(id));
            assertEquals(Optional.empty(), dispatch.state(id));
            assertTrue(tasks.meta(id).orElseThrow().done());
            assertEquals(List.of(), dispatch.orphans(10));
            assertFalse(dispatch.finishIfIdle(id), "only the first call ends it");
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void setAction_changesTheStoredAction(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            long id = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            Tasks.dispatch(db).setAction(id, TaskAction.PAUSE, 10);
            assertEquals(Optional.of(TaskAction.PAUSE), tasks.action(id));
        }
    }
    @ParameterizedTest
    @MethodSource(BOTH)
    void assignments_ofSeveralHosts_giveEveryHostAList(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(new TaskStore(db), Tasks.spec("h1", "h2"), Tasks.now());
            dispatch.dispatch(id, List.of("h1"), 100, Optional.empty());
            assertEquals(Map.of("h1", List.of(new Assignment(id, 100, Assignment.Kind.START)), "h2", List.of(), "h9", List.of()),
                    dispatch.assignments(List.of("h1", "h2", "h9")));
            assertEquals(Map.of(), dispatch.assignments(List.of()));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void running_listsRunsStartedInTheWindow_andGiveUpAsFailedEndsOne(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(tasks, Tasks.spec("h1", "h2", "h3"), Tasks.now());
            dispatch.dispatch(id, List.of("h1"), 1000, Optional.empty());
            dispatch.dispatch(id, List.of("h2"), 2000, Optional.empty());
            dispatch.dispatch(id, List.of("h3"), 3000, Optional.empty());
            assertEquals(List.of(new DispatchStore.Run("h2", 2000), new DispatchStore.Run("h3", 3000)),
                    dispatch.running(id, 1000, 3000).stream().sorted(java.util.Comparator.comparing(DispatchStore.Run::host)).toList());
            assertTrue(dispatch.giveUp(id, "h2", 2000, HostStatus.FAILED, "ibex: no agent", 5000));
            assertEquals(new TaskHost(id, "h2", HostStatus.FAILED, "", "ibex: no agent"), tasks.host(id, "h2", TaskStore.Output.BOTH).orElseThrow());
            assertEquals(List.of(new DispatchStore.Run("h3", 3000)), dispatch.running(id, 1000, 3000));
            var late = new DispatchStore.Result(id, "h2", 2000, HostStatus.SUCCESS, "late", "");
            assertEquals(List.of(), dispatch.record(List.of(late)), "only a timeout takes a late result");
        }
    }
}
