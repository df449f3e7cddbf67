package ibex.agent;

import ibex.core.Assignment;

/**
 * What the agent does about one assignment, decided from what it knows locally. Pure, so the
 * whole table is tested without processes. A (task, clock) that ever started is never started
 * again: that is the exactly-once rule across reconnects and restarts.
 */
final class Reconcile {
    private Reconcile() {
        throw new AssertionError();
    }

    enum Decision { NOTHING, ASK_SCRIPT, START, KILL, KILLED_BEFORE_START }

    static Decision decide(Assignment a, boolean startedBefore, boolean runningNow, boolean haveScript) {
        return switch (a.kind()) {
            case START -> startedBefore ? Decision.NOTHING : haveScript ? Decision.START : Decision.ASK_SCRIPT;
            case KILL -> runningNow ? Decision.KILL : startedBefore ? Decision.NOTHING : Decision.KILLED_BEFORE_START;
        };
    }
}
