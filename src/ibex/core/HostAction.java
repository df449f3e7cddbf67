package ibex.core;

import java.util.Locale;
import java.util.Optional;

/** An operator's action on one host of a task. */
public enum HostAction {
    IGNORE, KILL, REDO;

    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public static Optional<HostAction> parse(String s) {
        for (var v : values()) {
            if (v.wire().equals(s)) {
                return Optional.of(v);
            }
        }
        return Optional.empty();
    }
}
