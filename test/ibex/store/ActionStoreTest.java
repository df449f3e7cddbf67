package ibex.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.core.HostAction;
import ibex.core.HostChange;
import ibex.core.HostStatus;
import ibex.core.TaskAction;
import ibex.core.TaskHost;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ActionStoreTest {
    private static final String BOTH = "ibex.store.TestDatabases#databases";
    private static final ActionStore.Outcome OK = new ActionStore.Outcome("", null, List.of());

    /** A task with h1 success, h2 running (clock 1000), h3 and h4 waiting. */
    private record Fixture(TaskStore tasks, DispatchStore dispatch, ActionStore actions, long id) {
        static Fixture of(Database db) {
            var f = new Fixture(new TaskStore(db), Tasks.dispatch(db), Tasks.actions(db),
                    Tasks.create(new TaskStore(db), Tasks.spec("h1", "h2", "h3", "h4"), Tasks.now()));
            f.dispatch.dispatch(f.id, List.of("h1", "h2"), 1000, Optional.empty());
            f.dispatch.record(List.of(new DispatchStore.Result(f.id, "h1", 1000, HostStatus.SUCCESS, "done", "")));
            return f;
        }

        List<HostStatus> statuses() {
            return tasks.hosts(id, TaskStore.Output.NONE).stream().map(TaskHost::status).toList();
        }

        TaskHost host(String h) {
            return tasks.host(id, h, TaskStore.Output.BOTH).orElseThrow();
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void start_storesTheAction_andTheActingServerTakesTheTask(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            f.dispatch.claim(f.id, "", "s1");
            f.dispatch.setAction(f.id, TaskAction.PAUSE, 1);
            assertEquals(Optional.of(OK), f.actions.taskAction(f.id, TaskAction.START, 2000, Tasks.AUDIT));
            assertEquals(Optional.of(TaskAction.START), f.tasks.action(f.id));
            assertEquals(List.of(), f.dispatch.orphans(10));
            assertEquals(List.of(f.id), f.dispatch.owned("test:1", 10));
            assertEquals(List.of(HostStatus.SUCCESS, HostStatus.RUNNING, HostStatus.WAITING, HostStatus.WAITING), f.statuses());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void pause_changesOnlyTheAction(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            f.dispatch.claim(f.id, "", "s1");
            assertEquals(Optional.of(OK), f.actions.taskAction(f.id, TaskAction.PAUSE, 2000, Tasks.AUDIT));
            assertEquals(Optional.of(TaskAction.PAUSE), f.tasks.action(f.id));
            assertEquals(List.of(f.id), f.dispatch.owned("s1", 10));
            assertEquals(List.of(HostStatus.SUCCESS, HostStatus.RUNNING, HostStatus.WAITING, HostStatus.WAITING), f.statuses());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void cancel_cancelsWaitingHosts_andLeavesRunningOnesAlone(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            assertEquals(Optional.of(OK), f.actions.taskAction(f.id, TaskAction.CANCEL, 2000, Tasks.AUDIT));
            assertEquals(Optional.of(TaskAction.CANCEL), f.tasks.action(f.id));
            assertEquals(List.of(HostStatus.SUCCESS, HostStatus.RUNNING, HostStatus.CANCELLED, HostStatus.CANCELLED), f.statuses());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void cancelOrKill_givesTheActingServerAnUnownedTask_butLeavesAnotherServersTaskWithIt(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var unowned = Fixture.of(db);
            assertEquals(List.of(unowned.id), unowned.dispatch.orphans(10), "nobody owns it yet");
            unowned.actions.taskAction(unowned.id, TaskAction.CANCEL, 2000, Tasks.AUDIT);
            assertEquals(List.of(unowned.id), unowned.dispatch.owned("test:1", 10), "someone must finish it");

            var others = Fixture.of(db);
            others.dispatch.claim(others.id, "", "s1");
            others.actions.taskAction(others.id, TaskAction.KILL, 2000, Tasks.AUDIT);
            assertEquals(List.of(others.id), others.dispatch.owned("s1", 10));
            assertEquals(List.of(unowned.id), others.dispatch.owned("test:1", 10));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void kill_cancelsWaitingHosts_andKillsRunningOnesWithTheirRunsClock(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            var outcome = f.actions.taskAction(f.id, TaskAction.KILL, 2000, Tasks.AUDIT).orElseThrow();
            assertEquals(new ActionStore.Outcome("", null, List.of(HostChange.kill("h2", f.id, 1000))), outcome);
            assertEquals(Optional.of(TaskAction.KILL), f.tasks.action(f.id));
            assertEquals(List.of(HostStatus.SUCCESS, HostStatus.KILLING, HostStatus.CANCELLED, HostStatus.CANCELLED), f.statuses());
            var killed = new DispatchStore.Result(f.id, "h2", 1000, HostStatus.KILLED, "", "ibex: killed on request");
            assertEquals(List.of(killed), f.dispatch.record(List.of(killed)), "the killed run still reports on its clock");
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void taskAction_onAFinishedOrUnknownTask_isEmpty(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            f.actions.taskAction(f.id, TaskAction.KILL, 2000, Tasks.AUDIT);
            f.dispatch.record(List.of(new DispatchStore.Result(f.id, "h2", 1000, HostStatus.KILLED, "", "")));
            assertTrue(f.dispatch.finishIfIdle(f.id));
            for (var a : TaskAction.values()) {
                assertEquals(Optional.empty(), f.actions.taskAction(f.id, a, 3000, Tasks.AUDIT), a.wire());
            }
            assertEquals(Optional.empty(), f.actions.taskAction(f.id + 1, TaskAction.START, 3000, Tasks.AUDIT));
            assertEquals(Optional.empty(), f.tasks.action(f.id), "a refused action does not bring the task back");
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void ignore_ofARunningHost_dropsTheRun_andOfAWaitingHostChangesNothingForAgents(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            assertEquals(Optional.of(new ActionStore.Outcome("", null, List.of(HostChange.drop("h2", f.id)))),
                    f.actions.hostAction(f.id, "h2", HostAction.IGNORE, 2000, Tasks.AUDIT));
            assertEquals(Optional.of(OK), f.actions.hostAction(f.id, "h3", HostAction.IGNORE, 2000, Tasks.AUDIT));
            assertEquals(Optional.of(OK), f.actions.hostAction(f.id, "h1", HostAction.IGNORE, 2000, Tasks.AUDIT));
            assertEquals(List.of(HostStatus.IGNORED, HostStatus.IGNORED, HostStatus.IGNORED, HostStatus.WAITING), f.statuses());
            assertEquals(List.of(), Tasks.assignments(f.dispatch, "h2"));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void ignore_onAPausedTask_saysToClickStart(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            f.actions.taskAction(f.id, TaskAction.PAUSE, 1500, Tasks.AUDIT);
            assertEquals(Optional.of(new ActionStore.Outcome("", "you can click start to run the task", List.of())),
                    f.actions.hostAction(f.id, "h3", HostAction.IGNORE, 2000, Tasks.AUDIT));
            assertEquals(HostStatus.IGNORED, f.host("h3").status());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void kill_ofARunningHost_killsItsRun(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            assertEquals(Optional.of(new ActionStore.Outcome("", null, List.of(HostChange.kill("h2", f.id, 1000)))),
                    f.actions.hostAction(f.id, "h2", HostAction.KILL, 2000, Tasks.AUDIT));
            assertEquals(HostStatus.KILLING, f.host("h2").status());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void kill_ofATimedOutHost_killsItsRun(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            f.dispatch.giveUp(f.id, "h2", 1000, HostStatus.TIMEOUT, "late", 1500);
            assertEquals(Optional.of(new ActionStore.Outcome("", null, List.of(HostChange.kill("h2", f.id, 1000)))),
                    f.actions.hostAction(f.id, "h2", HostAction.KILL, 2000, Tasks.AUDIT));
            assertEquals(HostStatus.KILLING, f.host("h2").status());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void kill_ofAHostThatIsNotRunning_isRefused(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            var refused = Optional.of(new ActionStore.Outcome("current status cannot kill", null, List.of()));
            assertEquals(refused, f.actions.hostAction(f.id, "h1", HostAction.KILL, 2000, Tasks.AUDIT));
            assertEquals(refused, f.actions.hostAction(f.id, "h3", HostAction.KILL, 2000, Tasks.AUDIT));
            f.actions.hostAction(f.id, "h2", HostAction.KILL, 2000, Tasks.AUDIT);
            assertEquals(refused, f.actions.hostAction(f.id, "h2", HostAction.KILL, 2100, Tasks.AUDIT), "already killing");
            assertEquals(List.of(HostStatus.SUCCESS, HostStatus.KILLING, HostStatus.WAITING, HostStatus.WAITING), f.statuses());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void redo_startsANewRun_withANewerClock_andClearsTheOutput(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            assertEquals(Optional.of(new ActionStore.Outcome("", null, List.of(HostChange.start("h1", f.id, 2000)))),
                    f.actions.hostAction(f.id, "h1", HostAction.REDO, 2000, Tasks.AUDIT));
            assertEquals(new TaskHost(f.id, "h1", HostStatus.RUNNING, "", ""), f.host("h1"));
            // A clock that is not newer than the current run still makes a new run.
            assertEquals(Optional.of(new ActionStore.Outcome("", null, List.of(HostChange.start("h1", f.id, 2001)))),
                    f.actions.hostAction(f.id, "h1", HostAction.REDO, 1500, Tasks.AUDIT));
            assertEquals(Optional.of(new ActionStore.Outcome("", null, List.of(HostChange.start("h3", f.id, 3000)))),
                    f.actions.hostAction(f.id, "h3", HostAction.REDO, 3000, Tasks.AUDIT), "a waiting host may be redone too");
            assertEquals(List.of(new ibex.core.Assignment(f.id, 2001, ibex.core.Assignment.Kind.START)), Tasks.assignments(f.dispatch, "h1"));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void hostAction_onAnUnknownHost_saysNoSuchHost(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            for (var a : HostAction.values()) {
                assertEquals(Optional.of(new ActionStore.Outcome("no such host", null, List.of())),
                        f.actions.hostAction(f.id, "h9", a, 2000, Tasks.AUDIT), a.wire());
            }
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void hostAction_onAFinishedTask_isEmpty_andChangesNothing(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            f.actions.taskAction(f.id, TaskAction.CANCEL, 1500, Tasks.AUDIT);
            f.dispatch.record(List.of(new DispatchStore.Result(f.id, "h2", 1000, HostStatus.FAILED, "", "")));
            assertTrue(f.dispatch.finishIfIdle(f.id));
            for (var a : HostAction.values()) {
                assertEquals(Optional.empty(), f.actions.hostAction(f.id, "h1", a, 2000, Tasks.AUDIT), a.wire());
            }
            assertEquals(HostStatus.SUCCESS, f.host("h1").status());
        }
    }

    /** An action and its audit row are one transaction: what took effect is audited, what was refused is not. */
    @ParameterizedTest
    @MethodSource(BOTH)
    void actions_areAuditedWithTheirEffect_refusalsAreNot(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var f = Fixture.of(db);
            var audit = new AuditStore(db);
            f.actions.taskAction(f.id, TaskAction.PAUSE, 2000, Tasks.AUDIT.forTask(f.id));
            f.actions.hostAction(f.id, "h3", HostAction.KILL, 2000, Tasks.AUDIT.forTask(f.id));   // waiting: "current status cannot kill"
            f.actions.hostAction(f.id, "h2", HostAction.KILL, 2000, Tasks.AUDIT.forTask(f.id));
            f.actions.taskAction(f.id + 1, TaskAction.START, 2000, Tasks.AUDIT.forTask(f.id + 1));   // no such task
            // Newest first, after the creation's own entry.
            assertEquals(List.of("test", "test", "create"), audit.list(f.id, 10).stream().map(AuditStore.Entry::action).toList());
            assertEquals(List.of(), audit.list(f.id + 1, 10));
        }
    }
}
