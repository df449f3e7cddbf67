package ibex.core;

import java.util.Locale;
import java.util.Optional;

/** A task-level action, stored in {@code task_action.action}; the row's absence means done. */
public enum TaskAction {
    START, PAUSE, CANCEL, KILL;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<TaskAction> parse(String s) {
        for (var v : values()) {
            if (v.wire().equals(s)) {
                return Optional.of(v);
            }
        }
        return Optional.empty();
    }

    @Override
    public String toString() {
        return wire();
    }
}
