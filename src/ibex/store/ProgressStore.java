package ibex.store;

import java.util.List;

/**
 * Live output of running hosts: agents send their scripts' output while it runs, and the server
 * writes it into {@code task_host.stdout} and {@code stderr} now and then (the caller decides how
 * often and how much). A write lands only on the run it belongs to (same clock) while that run is
 * running or being killed, so it never overwrites a result, and the result replaces it.
 */
public final class ProgressStore {
    private final Database db;

    public ProgressStore(Database db) {
        this.db = db;
    }

    /**
     * Output of one run to store. {@code replace}: the text is the run's output from its start (the
     * first write of an agent connection), else it is appended to what is stored.
     */
    public record Write(long taskId, String host, long clock, boolean replace, String stdout, String stderr) {
    }

    private static final String WHERE = " WHERE id = ? AND host = ? AND clock = ? AND status IN ('running', 'killing')";
    private static final String REPLACE = "UPDATE task_host SET stdout = ?, stderr = ?" + WHERE;
    private static final String APPEND =
            "UPDATE task_host SET stdout = CONCAT(COALESCE(stdout, ''), ?), stderr = CONCAT(COALESCE(stderr, ''), ?)" + WHERE;

    /** Writes all in one transaction; returns how many runs were still there to take their output. */
    public int write(List<Write> writes) {
        if (writes.isEmpty()) {
            return 0;
        }
        return db.inTransaction(c -> {
            int changed = 0;
            try (var replace = c.prepareStatement(REPLACE); var append = c.prepareStatement(APPEND)) {
                for (var w : writes) {
                    var ps = w.replace() ? replace : append;
                    ps.setString(1, w.stdout());
                    ps.setString(2, w.stderr());
                    ps.setLong(3, w.taskId());
                    ps.setString(4, w.host());
                    ps.setLong(5, w.clock());
                    changed += ps.executeUpdate();
                }
            }
            return changed;
        });
    }
}
