package ibex.server.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.core.HostStatus;
import ibex.core.InvalidTask;
import ibex.core.TaskAction;
import ibex.core.TaskSpec;
import ibex.server.sched.Planner.Plan;
import ibex.store.DispatchStore.TaskState;
import java.util.EnumMap;
import java.util.List;
import java.util.Optional;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

/** The scheduler's decisions (reference §4.2) as pure functions: no database, no sockets. */
class PlannerTest {

    // ---- batch window ----------------------------------------------------------------------------

    @Test
    void batchZero_startsEveryWaitingHostAtOnce_inCreationOrder() {
        var t = state(TaskAction.START, 0, 0, "", HostStatus.WAITING, 5);
        assertEquals(5, Planner.room(t));
        assertEquals(dispatch("h1", "h2", "h3", "h4", "h5"), Planner.plan(t, hosts(1, 5)));
    }

    @Test
    void batch_isASlidingWindow_countingRunningAndKillingHosts() {
        assertEquals(2, Planner.room(state(TaskAction.START, 2, 0, "", HostStatus.WAITING, 5)));
        assertEquals(1, Planner.room(state(TaskAction.START, 2, 0, "", HostStatus.WAITING, 4, HostStatus.RUNNING, 1)));
        assertEquals(0, Planner.room(state(TaskAction.START, 2, 0, "", HostStatus.WAITING, 3, HostStatus.RUNNING, 2)));
        assertEquals(0, Planner.room(state(TaskAction.START, 2, 0, "", HostStatus.WAITING, 3, HostStatus.RUNNING, 1,
                HostStatus.KILLING, 1)), "a killing host still holds its place in the window");
        assertEquals(0, Planner.room(state(TaskAction.START, 1, 0, "", HostStatus.WAITING, 3, HostStatus.KILLING, 1)));
    }

    @Test
    void batch_window_isFreedByFinishedHosts_ofEveryKind() {
        var t = state(TaskAction.START, 3, 5, "", HostStatus.WAITING, 10, HostStatus.RUNNING, 1, HostStatus.SUCCESS, 2,
                HostStatus.FAILED, 1, HostStatus.KILLED, 1, HostStatus.CANCELLED, 1, HostStatus.IGNORED, 1, HostStatus.TIMEOUT, 1);
        assertEquals(2, Planner.room(t));
        assertEquals(dispatch("h1", "h2"), Planner.plan(t, hosts(1, 2)));
    }

    @Test
    void room_neverExceedsTheWaitingHosts_andAFullWindowPlansNothing() {
        assertEquals(2, Planner.room(state(TaskAction.START, 5, 0, "", HostStatus.WAITING, 2)));
        assertEquals(0, Planner.room(state(TaskAction.START, 1, 0, "", HostStatus.WAITING, 0, HostStatus.RUNNING, 1)));
        var full = state(TaskAction.START, 2, 0, "", HostStatus.WAITING, 3, HostStatus.RUNNING, 2);
        assertEquals(Plan.NOTHING, Planner.plan(full, List.of()));
    }

    @Test
    void plan_takesNoMoreThanTheRoom_evenWhenGivenMoreWaitingHosts() {
        var t = state(TaskAction.START, 3, 0, "", HostStatus.WAITING, 6, HostStatus.RUNNING, 1);
        assertEquals(dispatch("h1", "h2"), Planner.plan(t, hosts(1, 6)));
    }

    @Test
    void aLongRunningHost_keepsItsPlace_theScheduleNeverTimesItOut() {
        // Timeouts are the agent's job (TERM, grace, KILL); the planner has no clock, and a run
        // that goes on holds its place in the window. The server's backstop lives in Scheduler.
        var t = state(TaskAction.START, 1, 0, "", HostStatus.WAITING, 2, HostStatus.RUNNING, 1);
        assertEquals(0, Planner.room(t));
        assertEquals(Plan.NOTHING, Planner.plan(t, List.of()));
    }

    // ---- percentages -----------------------------------------------------------------------------

    @Test
    void batchPercentage_roundsUp_andDrivesTheWindow() {
        var spec = TaskSpec.from(request("25%", null, 10));
        assertEquals(3, spec.batch());
        var t = state(TaskAction.START, spec.batch(), spec.tolerance(), "", HostStatus.WAITING, 10);
        assertEquals(3, Planner.room(t));
        assertEquals(dispatch("h1", "h2", "h3"), Planner.plan(t, hosts(1, 10)));
        assertEquals(1, TaskSpec.from(request("1%", null, 10)).batch(), "a batch of at least one host");
        assertEquals(7, TaskSpec.from(request("100%", null, 7)).batch());
        assertEquals(5, TaskSpec.from(request("50%", null, 9)).batch());
    }

    @Test
    void tolerancePercentage_roundsDown() {
        assertEquals(0, TaskSpec.from(request(null, "10%", 5)).tolerance(), "10% of 5 hosts tolerates none");
        assertEquals(2, TaskSpec.from(request(null, "50%", 5)).tolerance());
        assertEquals(0, TaskSpec.from(request(null, "0%", 5)).tolerance());
        assertEquals(5, TaskSpec.from(request(null, "100%", 5)).tolerance());
        var spec = TaskSpec.from(request(null, "10%", 5));
        var t = state(TaskAction.START, spec.batch(), spec.tolerance(), "", HostStatus.WAITING, 4, HostStatus.FAILED, 1);
        assertEquals(Plan.PAUSE, Planner.plan(t, hosts(1, 4)));
    }

    @Test
    void plainCounts_areTakenAsTheOriginalDoes() {
        var spec = TaskSpec.from(request("4", "2", 10));
        assertEquals(4, spec.batch());
        assertEquals(2, spec.tolerance());
        var none = TaskSpec.from(request(null, null, 10));
        assertEquals(0, none.batch());
        assertEquals(0, none.tolerance());
    }

    @Test
    void batchOfZeroPercent_isRejected() {
        var e = assertThrows(InvalidTask.class, () -> TaskSpec.from(request("0%", null, 10)));
        assertEquals("arg(batch) percentage must be 1%..100%, got 0%", e.getMessage());
        assertFalse(e.isBadRequest(), "answered with HTTP 200 and err, as the original's field checks");
    }

    @Test
    void percentagesOver100_areRejected() {
        var b = assertThrows(InvalidTask.class, () -> TaskSpec.from(request("101%", null, 10)));
        assertEquals("arg(batch) percentage must be 1%..100%, got 101%", b.getMessage());
        var t = assertThrows(InvalidTask.class, () -> TaskSpec.from(request(null, "150%", 10)));
        assertEquals("arg(tolerance) percentage must be 0%..100%, got 150%", t.getMessage());
    }

    @Test
    void amountText_thatIsNeitherCountNorPercentage_doesNotParse() {
        for (var bad : List.of("", "%", "-1", "-5%", "2.5%", "abc", "25 %x", "1e3", "1234567890")) {
            assertEquals(Optional.empty(), TaskSpec.Amount.parse(bad), bad);
        }
        assertEquals(Optional.of(new TaskSpec.Amount(25, true)), TaskSpec.Amount.parse(" 25% "));
        assertEquals(Optional.of(TaskSpec.Amount.count(3)), TaskSpec.Amount.parse("3"));
    }

    // ---- tolerance -------------------------------------------------------------------------------

    @Test
    void failuresBeyondTheTolerance_pauseTheTask_andStartNothing() {
        for (var bad : List.of(HostStatus.FAILED, HostStatus.TIMEOUT, HostStatus.KILLFAILED)) {
            var t = state(TaskAction.START, 0, 0, "", HostStatus.WAITING, 3, bad, 1);
            assertTrue(Planner.overTolerance(t), bad.wire());
            assertEquals(0, Planner.room(t), bad.wire());
            assertEquals(Plan.PAUSE, Planner.plan(t, hosts(1, 3)), bad.wire());
        }
    }

    @Test
    void failuresUpToTheTolerance_letTheTaskGoOn() {
        var t = state(TaskAction.START, 0, 2, "", HostStatus.WAITING, 3, HostStatus.FAILED, 1, HostStatus.TIMEOUT, 1);
        assertFalse(Planner.overTolerance(t));
        assertEquals(dispatch("h1", "h2", "h3"), Planner.plan(t, hosts(1, 3)));
        var over = state(TaskAction.START, 0, 2, "", HostStatus.WAITING, 3, HostStatus.FAILED, 1, HostStatus.TIMEOUT, 1,
                HostStatus.KILLFAILED, 1);
        assertEquals(Plan.PAUSE, Planner.plan(over, hosts(1, 3)));
    }

    @Test
    void killedCancelledAndIgnoredHosts_doNotCountAgainstTheTolerance() {
        var t = state(TaskAction.START, 0, 0, "", HostStatus.WAITING, 1, HostStatus.KILLED, 2, HostStatus.CANCELLED, 2,
                HostStatus.IGNORED, 2, HostStatus.SUCCESS, 2);
        assertFalse(Planner.overTolerance(t));
        assertEquals(dispatch("h1"), Planner.plan(t, hosts(1, 1)));
    }

    @Test
    void failuresBeyondTheTolerance_withNothingWaiting_finishTheTask() {
        var t = state(TaskAction.START, 0, 0, "", HostStatus.FAILED, 3);
        assertEquals(Plan.FINISH, Planner.plan(t, List.of()));
    }

    // ---- pause list ------------------------------------------------------------------------------

    @Test
    void aPauseHost_runs_andTheTaskPausesBehindIt() {
        var t = state(TaskAction.START, 0, 0, "h2", HostStatus.WAITING, 4);
        var plan = Planner.plan(t, hosts(1, 4));
        assertEquals(List.of("h1", "h2"), plan.dispatch());
        assertEquals(Optional.of(TaskAction.PAUSE), plan.setAction());
        assertFalse(plan.finish());
    }

    @Test
    void thePauseHostFirstInLine_runsAlone() {
        var t = state(TaskAction.START, 0, 0, "h9,h1", HostStatus.WAITING, 4);
        assertEquals(new Plan(List.of("h1"), Optional.of(TaskAction.PAUSE), false), Planner.plan(t, hosts(1, 4)));
    }

    @Test
    void aPauseHostBeyondTheWindow_doesNotPauseTheTaskYet() {
        var t = state(TaskAction.START, 2, 0, "h4", HostStatus.WAITING, 4);
        assertEquals(dispatch("h1", "h2"), Planner.plan(t, hosts(1, 2)));
        var later = state(TaskAction.START, 2, 0, "h4", HostStatus.WAITING, 2, HostStatus.SUCCESS, 2);
        assertEquals(new Plan(List.of("h3", "h4"), Optional.of(TaskAction.PAUSE), false), Planner.plan(later, hosts(3, 4)));
    }

    @Test
    void anEmptyPauseList_orOneWithEmptyEntries_pausesNothing() {
        for (var pause : List.of("", ",", ",,h9,", "h10")) {
            var t = state(TaskAction.START, 0, 0, pause, HostStatus.WAITING, 3);
            assertEquals(dispatch("h1", "h2", "h3"), Planner.plan(t, hosts(1, 3)), "pause '" + pause + "'");
        }
    }

    // ---- finish and actions ----------------------------------------------------------------------

    @Test
    void aTaskWithNothingWaitingRunningOrKilling_finishes_whateverItsAction() {
        for (var a : TaskAction.values()) {
            var t = state(a, 1, 0, "", HostStatus.SUCCESS, 2, HostStatus.CANCELLED, 1, HostStatus.IGNORED, 1);
            assertEquals(Plan.FINISH, Planner.plan(t, List.of()), a.wire());
            assertEquals(0, Planner.room(t), a.wire());
        }
    }

    @Test
    void aTaskWithRunningOrKillingHosts_andNothingWaiting_waits() {
        for (var pending : List.of(HostStatus.RUNNING, HostStatus.KILLING)) {
            for (var a : TaskAction.values()) {
                var t = state(a, 0, 0, "", HostStatus.SUCCESS, 1, pending, 1);
                assertEquals(Plan.NOTHING, Planner.plan(t, List.of()), a.wire() + " with " + pending.wire());
            }
        }
    }

    @Test
    void aPausedCancelledOrKilledTask_withWaitingHosts_doesNothing_andNeverFinishes() {
        for (var a : List.of(TaskAction.PAUSE, TaskAction.CANCEL, TaskAction.KILL)) {
            var t = state(a, 0, 0, "", HostStatus.WAITING, 3);
            assertEquals(0, Planner.room(t), a.wire());
            assertEquals(Plan.NOTHING, Planner.plan(t, hosts(1, 3)), a.wire());
            var failing = state(a, 0, 0, "", HostStatus.WAITING, 3, HostStatus.FAILED, 2);
            assertEquals(Plan.NOTHING, Planner.plan(failing, hosts(1, 3)), a.wire() + ": no second pause");
        }
    }

    // ---- the first step, taken at creation --------------------------------------------------------

    @Test
    void first_startsTheFirstBatchOfAStartedTask_andNothingOfAPausedOne() {
        assertEquals(dispatch("h1", "h2", "h3", "h4", "h5"), Planner.first(TaskSpec.from(request("0", null, 5))));
        assertEquals(dispatch("h1", "h2"), Planner.first(TaskSpec.from(request("2", null, 5))));
        assertEquals(dispatch("h1", "h2"), Planner.first(TaskSpec.from(request("25%", null, 5))), "25 % of 5 rounds up to 2");
        var paused = new TaskSpec.Request("t", "root", null, null, null, "", "echo", "", "", "pause", "me", hosts(1, 3));
        assertEquals(Plan.NOTHING, Planner.first(TaskSpec.from(paused)));
    }

    @Test
    void first_pausesBehindAPauseHostInTheFirstBatch() {
        var r = new TaskSpec.Request("t", "root", null, null, null, "h2", "echo", "", "", "start", "me", hosts(1, 4));
        assertEquals(new Plan(List.of("h1", "h2"), Optional.of(TaskAction.PAUSE), false), Planner.first(TaskSpec.from(r)));
    }

    // ---- helpers ---------------------------------------------------------------------------------

    private static TaskState state(TaskAction action, int batch, int tolerance, String pause, Object... counts) {
        var m = new EnumMap<HostStatus, Integer>(HostStatus.class);
        for (int i = 0; i < counts.length; i += 2) {
            m.put((HostStatus) counts[i], (Integer) counts[i + 1]);
        }
        return new TaskState(42, action, batch, tolerance, 30, pause, m, Long.MAX_VALUE);
    }

    /** h{from}..h{to}. */
    private static List<String> hosts(int from, int to) {
        return IntStream.rangeClosed(from, to).mapToObj(i -> "h" + i).toList();
    }

    private static Plan dispatch(String... hosts) {
        return new Plan(List.of(hosts), Optional.empty(), false);
    }

    private static TaskSpec.Request request(String batch, String tolerance, int hosts) {
        return new TaskSpec.Request("t", "root", batch == null ? null : TaskSpec.Amount.parse(batch).orElseThrow(),
                tolerance == null ? null : TaskSpec.Amount.parse(tolerance).orElseThrow(), null, "", "echo", "", "",
                "start", "me", hosts(1, hosts));
    }
}
