package ibex.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What servers sharing one database tell each other: who is alive (health), which server holds
 * each host's agent (presence, written on connect and disconnect only), the assignment-change log
 * every server follows, and retention.
 */
public final class ClusterStore {
    private final Database db;

    public ClusterStore(Database db) {
        this.db = db;
    }

    // ---- health ----------------------------------------------------------------------------

    /** Records that {@code scheduler} is alive now. */
    public void beat(String scheduler, long now) {
        db.inTransaction(c -> {
            if (TaskStore.update(c, "UPDATE task_scheduler_health SET clock = ? WHERE scheduler = ?", now, scheduler) == 0) {
                TaskStore.update(c, "INSERT INTO task_scheduler_health (scheduler, clock) VALUES (?, ?)", scheduler, now);
            }
            return null;
        });
    }

    /** Servers whose last beat is older than {@code before}. */
    public List<String> deadSchedulers(long before) {
        return db.read(c -> strings(c, "SELECT scheduler FROM task_scheduler_health WHERE clock < ?", before));
    }

    /**
     * Takes one dead server's tasks, each by compare-and-set, and removes its health row once it
     * owns nothing. Returns how many tasks this call took.
     */
    public int takeOver(String dead, String me) {
        return db.inTransaction(c -> {
            int taken = TaskStore.update(c, "UPDATE task_scheduler SET scheduler = ? WHERE scheduler = ?", me, dead);
            TaskStore.update(c, "UPDATE agent_host SET connected = 0 WHERE server = ? AND connected = 1", dead);
            TaskStore.update(c, "DELETE FROM task_scheduler_health WHERE scheduler = ?", dead);
            return taken;
        });
    }

    // ---- presence --------------------------------------------------------------------------

    public void connected(String host, String server, String agentId, String remote, long now) {
        presence(List.of(new PresenceChange(host, server, true, agentId, remote, now)));
    }

    /** Marks a host disconnected, unless another server holds it meanwhile. */
    public void disconnected(String host, String server, long now) {
        presence(List.of(new PresenceChange(host, server, false, "", "", now)));
    }

    /** A host's agent connecting to {@code server} (with its id and address) or leaving it. */
    public record PresenceChange(String host, String server, boolean connected, String agentId, String remote, long now) {
    }

    /**
     * Applies presence changes in one transaction, in order per host (sorted by host, so two servers
     * writing overlapping batches lock rows in the same order): a burst of reconnects after a server
     * restart is one commit, not one per agent. A disconnect leaves a host another server holds alone.
     */
    public void presence(List<PresenceChange> changes) {
        var sorted = new ArrayList<>(changes);
        sorted.sort(java.util.Comparator.comparing(PresenceChange::host));
        db.inTransaction(c -> {
            for (var p : sorted) {
                if (!p.connected()) {
                    TaskStore.update(c, "UPDATE agent_host SET connected = 0, seen = ? WHERE host = ? AND server = ?",
                            p.now(), p.host(), p.server());
                } else if (TaskStore.update(c, "UPDATE agent_host SET server = ?, agent_id = ?, remote = ?, connected = 1, seen = ? WHERE host = ?",
                        p.server(), p.agentId(), p.remote(), p.now(), p.host()) == 0) {
                    TaskStore.update(c, "INSERT INTO agent_host (host, server, agent_id, remote, connected, seen) VALUES (?, ?, ?, ?, 1, ?)",
                            p.host(), p.server(), p.agentId(), p.remote(), p.now());
                }
            }
            return null;
        });
    }

    /** A host's agent as the database knows it. */
    public record Presence(String host, String server, boolean connected, long seen) {
    }

    public Map<String, Presence> presence(Collection<String> hosts) {
        if (hosts.isEmpty()) {
            return Map.of();
        }
        var list = List.copyOf(hosts);
        return db.read(c -> {
            var out = new HashMap<String, Presence>();
            try (var ps = c.prepareStatement("SELECT host, server, connected, seen FROM agent_host WHERE host IN ("
                    + TaskStore.marks(list.size()) + ")")) {
                TaskStore.bind(ps, list);
                try (var rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.put(rs.getString(1), new Presence(rs.getString(1), rs.getString(2), rs.getInt(3) == 1, rs.getLong(4)));
                    }
                }
            }
            return out;
        });
    }

    /** Servers with a fresh health row (their connected agents count as connected). */
    public List<String> liveSchedulers(long since) {
        return db.read(c -> strings(c, "SELECT scheduler FROM task_scheduler_health WHERE clock >= ?", since));
    }

    // ---- assignment-change log -------------------------------------------------------------

    /**
     * Above this many hosts, one change-log row with host "" stands for every host of the task:
     * a task for 10,000 hosts writes one row, not 10,000 (BENCHMARKS.md P3). A follower reloads
     * the task's hosts connected to it, a superset of those changed, which is harmless.
     */
    static final int TASK_WIDE_OVER = 64;

    /** Appends the change of {@code hosts}, inside the caller's transaction; {@code server} wrote it. */
    static void log(Connection c, String server, long taskId, Collection<String> hosts, long now) throws SQLException {
        if (hosts.isEmpty()) {
            return;
        }
        try (var ps = c.prepareStatement("INSERT INTO dispatch_log (host, id, server, created) VALUES (?, ?, ?, ?)")) {
            for (var h : hosts.size() > TASK_WIDE_OVER ? List.of("") : hosts) {
                ps.setString(1, h);
                ps.setLong(2, taskId);
                ps.setString(3, server);
                ps.setLong(4, now);
                ps.addBatch();
            }
            ps.executeBatch();
        }
    }

    /** One logged change: a host whose assignments changed, at log position {@code seq}. */
    public record LogEntry(long seq, String host, long taskId, String server, long created) {
        /** The row stands for every host of its task (see {@link #TASK_WIDE_OVER}). */
        public boolean taskWide() {
            return host.isEmpty();
        }
    }

    /** Every host of a task: what a task-wide change-log row stands for. */
    public List<String> hostsOf(long taskId) {
        return db.read(c -> strings(c, "SELECT host FROM task_host WHERE id = ?", taskId));
    }

    public List<LogEntry> logAfter(long seq, int limit) {
        return db.read(c -> {
            try (var ps = c.prepareStatement("SELECT seq, host, id, server, created FROM dispatch_log WHERE seq > ? ORDER BY seq LIMIT ?")) {
                ps.setLong(1, seq);
                ps.setInt(2, limit);
                try (var rs = ps.executeQuery()) {
                    var out = new ArrayList<LogEntry>();
                    while (rs.next()) {
                        out.add(new LogEntry(rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getString(4), rs.getLong(5)));
                    }
                    return out;
                }
            }
        });
    }

    /** The newest log position, where a starting server begins to follow. */
    public long logHead() {
        return db.read(c -> {
            try (var ps = c.prepareStatement("SELECT max(seq) FROM dispatch_log"); var rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0L;
            }
        });
    }

    // ---- retention -------------------------------------------------------------------------

    /**
     * Deletes up to {@code batch} finished tasks created before {@code before}, with their hosts
     * and output; small batches keep each transaction short so live work never waits long.
     * Returns how many tasks went.
     */
    public int deleteFinished(long before, int batch) {
        return db.inTransaction(c -> {
            var ids = new ArrayList<Long>();
            try (var ps = c.prepareStatement("""
                    SELECT m.id FROM task_meta m LEFT JOIN task_action a ON a.id = m.id
                    WHERE m.created < ? AND a.id IS NULL ORDER BY m.created LIMIT ?""")) {
                ps.setLong(1, before);
                ps.setInt(2, batch);
                try (var rs = ps.executeQuery()) {
                    while (rs.next()) {
                        ids.add(rs.getLong(1));
                    }
                }
            }
            if (ids.isEmpty()) {
                return 0;
            }
            var marks = TaskStore.marks(ids.size());
            try (var ps = c.prepareStatement("DELETE FROM task_host WHERE id IN (" + marks + ")")) {
                TaskStore.bind(ps, ids);
                ps.executeUpdate();
            }
            try (var ps = c.prepareStatement("DELETE FROM task_meta WHERE id IN (" + marks + ")")) {
                TaskStore.bind(ps, ids);
                ps.executeUpdate();
            }
            return ids.size();
        });
    }

    /** Drops change-log rows older than {@code before}; every server has long read them. */
    public int pruneLog(long before) {
        return db.inTransaction(c -> TaskStore.update(c, "DELETE FROM dispatch_log WHERE created < ?", before));
    }

    /** The first column of every row of a query with one parameter. */
    static List<String> strings(Connection c, String sql, Object arg) throws SQLException {
        try (var ps = c.prepareStatement(sql)) {
            ps.setObject(1, arg);
            try (var rs = ps.executeQuery()) {
                var out = new ArrayList<String>();
                while (rs.next()) {
                    out.add(rs.getString(1));
                }
                return out;
            }
        }
    }
}
