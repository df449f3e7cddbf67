package ibex.core;

import java.util.Optional;

/** An operator's action on one host of a task. */
public enum HostAction {
    IGNORE, KILL, REDO;

    public String wire() {
        return Names.of(this);
    }

    public static Optional<HostAction> parse(String s) {
        return Names.parse(values(), s);
    }
}
