package ibex.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The host-status transition table, written out in full and compared with {@link HostStatus#canMoveTo}
 * for every (from, to) pair. Derived from reference §4.3 and issue 3's fixes, and from the writes
 * the stores really make:
 * <ul>
 * <li>waiting: dispatch → running; cancel/kill → cancelled; ignore → ignored; redo → running.
 * <li>running: an agent result (success, failed, killed, killfailed, timeout), the server's give-up
 *     (failed: no agent; timeout: backstop), kill → killing, ignore, redo → running (a new clock).
 * <li>killing: an agent result (a script may end on its own before the kill lands), ignore, redo.
 * <li>timeout: a late result of the same run is kept (any result, timeout included: an agent cut off
 *     during its own timeout reports it after the server's backstop), kill, ignore, redo.
 * <li>every other finished state: redo → running, ignore → ignored.
 * <li>ignored: only redo; no result ever lands on it ("ignored stays ignored").
 * </ul>
 */
class HostStatusTest {
    private static final String X = "x";
    private static final String o = ".";

    /** Rows: from; columns: to, in declaration order. */
    private static final List<HostStatus> COLUMNS = List.of(HostStatus.values());
    private static final Map<HostStatus, String[]> TABLE = Map.of(
            //                                   WAITING RUNNING KILLING SUCCESS FAILED KILLED KILLFAILED TIMEOUT CANCELLED IGNORED
            // No waiting → failed: the no-agent failure is given to a dispatched (running) run.
            HostStatus.WAITING,    new String[] {o, X, o, o, o, o, o, o, X, X},
            HostStatus.RUNNING,    new String[] {o, X, X, X, X, X, X, X, o, X},
            HostStatus.KILLING,    new String[] {o, X, o, X, X, X, X, X, o, X},
            // timeout → timeout: an agent's late "timeout" report lands over a server-side timeout.
            HostStatus.TIMEOUT,    new String[] {o, X, X, X, X, X, X, X, o, X},
            HostStatus.SUCCESS,    new String[] {o, X, o, o, o, o, o, o, o, X},
            HostStatus.FAILED,     new String[] {o, X, o, o, o, o, o, o, o, X},
            HostStatus.KILLED,     new String[] {o, X, o, o, o, o, o, o, o, X},
            HostStatus.KILLFAILED, new String[] {o, X, o, o, o, o, o, o, o, X},
            HostStatus.CANCELLED,  new String[] {o, X, o, o, o, o, o, o, o, X},
            HostStatus.IGNORED,    new String[] {o, X, o, o, o, o, o, o, o, o});

    @Test
    void canMoveTo_matchesTheWrittenTable_forEveryPairOfStatuses() {
        assertEquals(10, COLUMNS.size(), "a new status needs a row and a column here");
        var wrong = new ArrayList<String>();
        for (var from : HostStatus.values()) {
            var row = TABLE.get(from);
            assertEquals(COLUMNS.size(), row.length, "row " + from);
            for (int i = 0; i < row.length; i++) {
                var to = COLUMNS.get(i);
                boolean expected = row[i].equals(X);
                if (from.canMoveTo(to) != expected) {
                    wrong.add(from + " → " + to + ": expected " + (expected ? "allowed" : "refused"));
                }
            }
        }
        assertEquals(List.of(), wrong);
    }

    @Test
    void ignored_neverTakesAResult_butCanBeRedone() {
        for (var s : HostStatus.values()) {
            if (s.isResult()) {
                assertEquals(false, HostStatus.IGNORED.canMoveTo(s), "ignored → " + s);
            }
        }
        assertTrue(HostStatus.IGNORED.canMoveTo(HostStatus.RUNNING));
    }

    @Test
    void everyFinishedState_canBeRedoneAndIgnored() {
        for (var s : HostStatus.values()) {
            if (!s.isPending()) {
                assertTrue(s.canMoveTo(HostStatus.RUNNING), s + " → running (redo)");
                if (s != HostStatus.IGNORED) {
                    assertTrue(s.canMoveTo(HostStatus.IGNORED), s + " → ignored");
                }
            }
        }
    }

    @Test
    void killedAndKillfailed_areRecorded_fromRunningAndKilling() {
        for (var from : List.of(HostStatus.RUNNING, HostStatus.KILLING)) {
            assertTrue(from.canMoveTo(HostStatus.KILLED), from + " → killed");
            assertTrue(from.canMoveTo(HostStatus.KILLFAILED), from + " → killfailed");
        }
    }

    @Test
    void pending_isExactlyWaitingRunningKilling() {
        assertEquals(EnumSet.of(HostStatus.WAITING, HostStatus.RUNNING, HostStatus.KILLING), where(HostStatus::isPending));
    }

    @Test
    void tolerance_countsExactlyFailedTimeoutKillfailed_notKilled() {
        assertEquals(EnumSet.of(HostStatus.FAILED, HostStatus.TIMEOUT, HostStatus.KILLFAILED),
                where(HostStatus::countsAgainstTolerance));
    }

    @Test
    void results_areExactlyWhatAnAgentMayReportAsAnEnd() {
        assertEquals(EnumSet.of(HostStatus.SUCCESS, HostStatus.FAILED, HostStatus.KILLED, HostStatus.KILLFAILED,
                HostStatus.TIMEOUT), where(HostStatus::isResult));
    }

    @Test
    void wireNames_areTheOriginalsLowerCaseNames_andParseBack() {
        var names = new ArrayList<String>();
        for (var s : HostStatus.values()) {
            names.add(s.wire());
            assertEquals(s.wire(), s.toString());
            assertEquals(Optional.of(s), HostStatus.parse(s.wire()));
        }
        assertEquals(List.of("waiting", "running", "killing", "success", "failed", "killed", "killfailed", "timeout",
                "cancelled", "ignored"), names);
    }

    @Test
    void parse_ofAnUnknownOrUpperCaseName_isEmpty() {
        for (var bad : List.of("", "RUNNING", "Running", "done", "kill", " running", "running ")) {
            assertEquals(Optional.empty(), HostStatus.parse(bad), bad);
        }
    }

    private static Set<HostStatus> where(java.util.function.Predicate<HostStatus> p) {
        var out = EnumSet.noneOf(HostStatus.class);
        for (var s : HostStatus.values()) {
            if (p.test(s)) {
                out.add(s);
            }
        }
        return out;
    }
}
