package ibex.agent;

import static ibex.agent.Reconcile.Decision.ASK_SCRIPT;
import static ibex.agent.Reconcile.Decision.KILL;
import static ibex.agent.Reconcile.Decision.KILLED_BEFORE_START;
import static ibex.agent.Reconcile.Decision.NOTHING;
import static ibex.agent.Reconcile.Decision.START;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ibex.core.Assignment;
import org.junit.jupiter.api.Test;

/** The whole decision table: a run that ever started is never started again. */
class ReconcileTest {
    private static Reconcile.Decision d(Assignment.Kind kind, boolean started, boolean running, boolean script) {
        return Reconcile.decide(new Assignment(1, 2, kind), started, running, script);
    }

    @Test
    void start_runsOnlyWhatNeverStarted() {
        for (boolean running : new boolean[] {false, true}) {
            for (boolean script : new boolean[] {false, true}) {
                assertEquals(NOTHING, d(Assignment.Kind.START, true, running, script), "started before: never again");
            }
        }
        assertEquals(START, d(Assignment.Kind.START, false, false, true));
        assertEquals(ASK_SCRIPT, d(Assignment.Kind.START, false, false, false));
    }

    @Test
    void kill_stopsWhatRuns_andEndsWhatNeverStarted() {
        for (boolean started : new boolean[] {false, true}) {
            for (boolean script : new boolean[] {false, true}) {
                assertEquals(KILL, d(Assignment.Kind.KILL, started, true, script));
            }
        }
        assertEquals(NOTHING, d(Assignment.Kind.KILL, true, false, true), "ended already: its result is reported");
        assertEquals(KILLED_BEFORE_START, d(Assignment.Kind.KILL, false, false, false));
        assertEquals(KILLED_BEFORE_START, d(Assignment.Kind.KILL, false, false, true));
    }
}
