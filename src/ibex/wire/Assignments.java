package ibex.wire;

import ibex.core.Assignment;
import java.util.List;
import java.util.Objects;

/**
 * Type 0x11, server to agent. The answer to a {@link Heartbeat} ({@code ackSeq} = its seq), or pushed
 * unprompted with {@code ackSeq} 0 when the host's assignments change. {@code acks} name the reports
 * that are stored and may be forgotten; {@code tasks} is the host's complete current list, so an
 * agent that missed a push catches up with the next one.
 */
public record Assignments(long ackSeq, List<Ack> acks, List<Assignment> tasks) implements Message {
    public Assignments {
        acks = List.copyOf(acks);
        tasks = List.copyOf(tasks);
        for (var t : tasks) {
            Objects.requireNonNull(t.kind(), () -> "task " + t.taskId() + ": assignment kind");
        }
    }

    /** "The result of this run is stored; stop reporting it." */
    public record Ack(long taskId, long clock) {
    }
}
