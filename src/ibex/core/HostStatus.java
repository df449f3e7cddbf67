package ibex.core;

import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * A host's status within one task, stored and served by the original's lower-case names
 * (Nightingale's UI colours by them). The transitions are all in {@link #NEXT}.
 */
public enum HostStatus {
    WAITING, RUNNING, KILLING, SUCCESS, FAILED, KILLED, KILLFAILED, TIMEOUT, CANCELLED, IGNORED;

    private static final Map<HostStatus, Set<HostStatus>> NEXT = new EnumMap<>(HostStatus.class);

    static {
        // A finished host can be redone (running, new clock) or ignored by an operator. A timeout
        // still accepts a late result from its clock: the script really ended that way. A killing
        // host may still finish on its own before the kill lands. Ignored is final for results.
        var results = EnumSet.of(SUCCESS, FAILED, KILLED, KILLFAILED, TIMEOUT);
        NEXT.put(WAITING, EnumSet.of(RUNNING, CANCELLED, IGNORED));
        NEXT.put(RUNNING, union(results, EnumSet.of(KILLING, IGNORED, RUNNING)));
        NEXT.put(KILLING, union(results, EnumSet.of(IGNORED, RUNNING)));
        // The server's backstop timeout may be followed by the agent's own report, a timeout too.
        NEXT.put(TIMEOUT, EnumSet.of(SUCCESS, FAILED, KILLED, KILLFAILED, TIMEOUT, KILLING, IGNORED, RUNNING));
        for (var done : EnumSet.of(SUCCESS, FAILED, KILLED, KILLFAILED, CANCELLED, IGNORED)) {
            NEXT.put(done, EnumSet.of(RUNNING, IGNORED));
        }
        NEXT.get(IGNORED).remove(IGNORED);
    }

    private static Set<HostStatus> union(Set<HostStatus> a, Set<HostStatus> b) {
        var s = EnumSet.copyOf(a);
        s.addAll(b);
        return s;
    }

    /** Whether a host in this status may move to {@code next}. */
    public boolean canMoveTo(HostStatus next) {
        return NEXT.get(this).contains(next);
    }

    /** Waiting, running and killing keep a task unfinished (the original's "ing" states). */
    public boolean isPending() {
        return this == WAITING || this == RUNNING || this == KILLING;
    }

    /** Failed, timeout and killfailed count against a task's tolerance. */
    public boolean countsAgainstTolerance() {
        return this == FAILED || this == TIMEOUT || this == KILLFAILED;
    }

    /** Statuses an agent may report as a script's end. */
    public boolean isResult() {
        return this == SUCCESS || this == FAILED || this == KILLED || this == KILLFAILED || this == TIMEOUT;
    }

    /** The stored and served name. */
    public String wire() {
        return Names.of(this);
    }

    public static Optional<HostStatus> parse(String s) {
        return Names.parse(values(), s);
    }

    @Override
    public String toString() {
        return wire();
    }
}
