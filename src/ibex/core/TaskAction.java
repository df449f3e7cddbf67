package ibex.core;

import java.util.Optional;

/** A task-level action, stored in {@code task_action.action}; the row's absence means done. */
public enum TaskAction {
    START, PAUSE, CANCEL, KILL;

    public String wire() {
        return Names.of(this);
    }

    public static Optional<TaskAction> parse(String s) {
        return Names.parse(values(), s);
    }

    @Override
    public String toString() {
        return wire();
    }
}
