package ibex.core;

import java.util.Optional;

/**
 * A change to what one host should be doing for one task: a new start or kill, or, when
 * {@code assignment} is empty, the end of the server's interest in that run. Produced by the
 * scheduler and by operator actions; the agent listener pushes it to a connected agent at once.
 */
public record HostChange(String host, long taskId, Optional<Assignment> assignment) {
    public static HostChange start(String host, long taskId, long clock) {
        return new HostChange(host, taskId, Optional.of(new Assignment(taskId, clock, Assignment.Kind.START)));
    }

    public static HostChange kill(String host, long taskId, long clock) {
        return new HostChange(host, taskId, Optional.of(new Assignment(taskId, clock, Assignment.Kind.KILL)));
    }

    public static HostChange drop(String host, long taskId) {
        return new HostChange(host, taskId, Optional.empty());
    }
}
