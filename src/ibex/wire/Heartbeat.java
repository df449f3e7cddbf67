package ibex.wire;

import ibex.core.HostStatus;
import java.util.List;
import java.util.Objects;

/**
 * Type 0x10, agent to server, every heartbeat interval. {@code seq} counts up from 1 per connection
 * and comes back as {@link Assignments#ackSeq()}. {@code reports} holds every run the agent has a
 * status for and the server has not acked yet.
 */
public record Heartbeat(long seq, List<Report> reports) implements Message {
    public Heartbeat {
        reports = List.copyOf(reports);
    }

    /**
     * One run of one task on this host. {@code status} is {@code running} (in progress; output so
     * far, never acked) or a result ({@link HostStatus#isResult()}); any other status cannot be
     * constructed or decoded. {@code exitCode} is the script's exit code, -1 when it has none.
     */
    public record Report(long taskId, long clock, HostStatus status, int exitCode, String stdout, String stderr) {
        public Report {
            Objects.requireNonNull(status, "status");
            Objects.requireNonNull(stdout, "stdout");
            Objects.requireNonNull(stderr, "stderr");
            if (!reportable(status)) {
                throw new IllegalArgumentException("task " + taskId + ": status '" + status.wire()
                        + "' cannot be reported by an agent, only running or a result");
            }
        }

        static boolean reportable(HostStatus s) {
            return s == HostStatus.RUNNING || s.isResult();
        }
    }
}
