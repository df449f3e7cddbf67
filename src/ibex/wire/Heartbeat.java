package ibex.wire;

import ibex.core.HostStatus;
import java.util.List;
import java.util.Objects;

/**
 * Type 0x10, agent to server, every heartbeat interval. {@code seq} counts up from 1 per connection
 * and comes back as {@link Assignments#ackSeq()}. {@code reports} holds the results the server has
 * not acked yet and that no earlier heartbeat still awaiting its reply carries, and live output of
 * runs still running.
 */
public record Heartbeat(long seq, List<Report> reports) implements Message {
    public Heartbeat {
        reports = List.copyOf(reports);
    }

    /**
     * One run of one task on this host.
     *
     * <p>A result ({@link HostStatus#isResult()}) carries the run's whole reported output (capped by
     * the agent: head and tail) with both offsets 0; it is reported until acked.
     *
     * <p>A {@code running} report carries live output: {@code stdout} and {@code stderr} are the next
     * pieces of the run's output, each starting at its offset, counted in UTF-8 bytes of the text
     * the agent has sent for that stream on this connection (see {@link LiveText}). It is never
     * acked; exitCode is -1.
     *
     * <p>Any other status cannot be constructed or decoded. {@code exitCode} is the script's exit
     * code, -1 when it has none.
     */
    public record Report(long taskId, long clock, HostStatus status, int exitCode, long stdoutOffset, String stdout,
                         long stderrOffset, String stderr) {
        public Report {
            Objects.requireNonNull(status, "status");
            Objects.requireNonNull(stdout, "stdout");
            Objects.requireNonNull(stderr, "stderr");
            if (!reportable(status)) {
                throw new IllegalArgumentException("task " + taskId + ": status '" + status.wire()
                        + "' cannot be reported by an agent, only running or a result");
            }
            String bad = offsetProblem(status, stdoutOffset, stderrOffset);
            if (bad != null) {
                throw new IllegalArgumentException("task " + taskId + ": " + bad);
            }
        }

        /** A result: the whole reported output, offsets 0. */
        public Report(long taskId, long clock, HostStatus status, int exitCode, String stdout, String stderr) {
            this(taskId, clock, status, exitCode, 0, stdout, 0, stderr);
        }

        /** Live output of a running run: the text of each stream from its offset on. */
        public static Report running(long taskId, long clock, long stdoutOffset, String stdout, long stderrOffset,
                                     String stderr) {
            return new Report(taskId, clock, HostStatus.RUNNING, -1, stdoutOffset, stdout, stderrOffset, stderr);
        }

        static boolean reportable(HostStatus s) {
            return s == HostStatus.RUNNING || s.isResult();
        }

        /** Null when the offsets fit the status, else what is wrong with them. */
        static String offsetProblem(HostStatus s, long stdoutOffset, long stderrOffset) {
            if (stdoutOffset < 0 || stderrOffset < 0) {
                return "live output offsets must not be negative, got " + stdoutOffset + " and " + stderrOffset;
            }
            if (s != HostStatus.RUNNING && (stdoutOffset != 0 || stderrOffset != 0)) {
                return "a result ('" + s.wire() + "') carries the whole output at offset 0, got offsets "
                        + stdoutOffset + " and " + stderrOffset;
            }
            return null;
        }
    }
}
