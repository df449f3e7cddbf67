package ibex.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** The audit trail: every task creation and action, append-only through this class. */
public final class AuditStore {
    private static final int MAX_HOSTS_TEXT = 4000;
    private final Database db;

    public AuditStore(Database db) {
        this.db = db;
    }

    /** One audited event. {@code hosts} is a comma list, cut to 4000 characters when stored. */
    public record Entry(long seq, long at, String actor, String remote, String action, long taskId, String hosts,
                        String scriptSha256, String detail) {
        /** The same entry about task {@code id}: a creation's entry is made before its task has an id. */
        public Entry forTask(long id) {
            return new Entry(seq, at, actor, remote, action, id, hosts, scriptSha256, detail);
        }
    }

    public void append(Entry e) {
        appends.write(e);
    }

    /** Entries arriving together share a transaction (see GroupCommit; issue 6, P6). */
    private final GroupCommit<Entry, Boolean> appends = new GroupCommit<>(64, this::insertAll);

    private List<Boolean> insertAll(List<Entry> batch) {
        return db.inTransaction(c -> {
            insert(c, batch);
            return Collections.nCopies(batch.size(), true);
        });
    }

    /**
     * Writes the entries in the caller's transaction, one JDBC batch (one round trip on MySQL):
     * a task creation writes its entry in its own transaction this way (TaskStore.create).
     */
    static void insert(Connection c, List<Entry> entries) throws SQLException {
        try (var ps = c.prepareStatement("""
                INSERT INTO audit_log (at, actor, remote, action, task_id, hosts, script_sha256, detail)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)""")) {
            for (var e : entries) {
                ps.setLong(1, e.at());
                ps.setString(2, e.actor());
                ps.setString(3, e.remote());
                ps.setString(4, e.action());
                ps.setLong(5, e.taskId());
                ps.setString(6, e.hosts().length() > MAX_HOSTS_TEXT ? e.hosts().substring(0, MAX_HOSTS_TEXT) + "..." : e.hosts());
                ps.setString(7, e.scriptSha256());
                ps.setString(8, e.detail().length() > 1024 ? e.detail().substring(0, 1021) + "..." : e.detail());
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    /** Newest first; for one task when {@code taskId} > 0. */
    public List<Entry> list(long taskId, int limit) {
        return db.read(c -> {
            var sql = "SELECT seq, at, actor, remote, action, task_id, hosts, script_sha256, detail FROM audit_log"
                    + (taskId > 0 ? " WHERE task_id = ?" : "") + " ORDER BY seq DESC LIMIT ?";
            try (var ps = c.prepareStatement(sql)) {
                int i = 1;
                if (taskId > 0) {
                    ps.setLong(i++, taskId);
                }
                ps.setInt(i, limit);
                try (var rs = ps.executeQuery()) {
                    var out = new ArrayList<Entry>();
                    while (rs.next()) {
                        out.add(new Entry(rs.getLong(1), rs.getLong(2), rs.getString(3), rs.getString(4), rs.getString(5),
                                rs.getLong(6), rs.getString(7), rs.getString(8), rs.getString(9)));
                    }
                    return out;
                }
            }
        });
    }
}
