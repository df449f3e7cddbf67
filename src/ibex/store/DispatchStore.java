package ibex.store;

import ibex.core.Assignment;
import ibex.core.HostStatus;
import ibex.core.TaskAction;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The writes of scheduling: which server owns a task, dispatching waiting hosts, results, actions.
 * Running and killing rows of {@code task_host} are the dispatch queue; a host's (task, clock) pair
 * names one run, and a result only lands on the run it belongs to.
 */
public final class DispatchStore {
    private final Database db;

    public DispatchStore(Database db) {
        this.db = db;
    }

    /** A result as an agent reported it. */
    public record Result(long taskId, String host, long clock, HostStatus status, String stdout, String stderr) {
    }

    /** What the planner needs to know about one task. */
    public record TaskState(long id, TaskAction action, int batch, int tolerance, int timeout, String pause,
                            Map<HostStatus, Integer> counts) {
        public int count(HostStatus s) {
            return counts.getOrDefault(s, 0);
        }
    }

    /** Unfinished tasks that nobody schedules yet, oldest first. */
    public List<Long> orphans(int limit) {
        return ids("SELECT id FROM task_scheduler WHERE scheduler = '' ORDER BY id LIMIT ?", "", limit);
    }

    /** Tasks this scheduler owns. */
    public List<Long> owned(String scheduler, int limit) {
        return ids("SELECT id FROM task_scheduler WHERE scheduler = ? ORDER BY id LIMIT ?", scheduler, limit);
    }

    private List<Long> ids(String sql, String scheduler, int limit) {
        return db.read(c -> {
            try (var ps = c.prepareStatement(sql)) {
                int i = 1;
                if (sql.contains("scheduler = ?")) {
                    ps.setString(i++, scheduler);
                }
                ps.setInt(i, limit);
                try (var rs = ps.executeQuery()) {
                    var out = new ArrayList<Long>();
                    while (rs.next()) {
                        out.add(rs.getLong(1));
                    }
                    return out;
                }
            }
        });
    }

    /** Compare-and-set of a task's owner; true when this call made the change. */
    public boolean claim(long id, String from, String to) {
        return db.inTransaction(c -> TaskStore.update(c,
                "UPDATE task_scheduler SET scheduler = ? WHERE id = ? AND scheduler = ?", to, id, from) == 1);
    }

    /** The task's definition, action and host counts by status; empty when the task is done or gone. */
    public Optional<TaskState> state(long id) {
        return db.read(c -> {
            TaskAction action;
            try (var ps = c.prepareStatement("""
                    SELECT a.action, m.batch, m.tolerance, m.timeout, m.pause
                    FROM task_action a JOIN task_meta m ON m.id = a.id WHERE a.id = ?""")) {
                ps.setLong(1, id);
                try (var rs = ps.executeQuery()) {
                    if (!rs.next()) {
                        return Optional.empty();
                    }
                    action = TaskAction.parse(rs.getString(1)).orElse(TaskAction.PAUSE);
                    var counts = counts(c, id);
                    return Optional.of(new TaskState(id, action, rs.getInt(2), rs.getInt(3), rs.getInt(4),
                            rs.getString(5), counts));
                }
            }
        });
    }

    private static Map<HostStatus, Integer> counts(Connection c, long id) throws SQLException {
        var counts = new EnumMap<HostStatus, Integer>(HostStatus.class);
        try (var ps = c.prepareStatement("SELECT status, count(*) FROM task_host WHERE id = ? GROUP BY status")) {
            ps.setLong(1, id);
            try (var rs = ps.executeQuery()) {
                while (rs.next()) {
                    var s = HostStatus.parse(rs.getString(1));
                    if (s.isPresent()) {
                        counts.put(s.get(), rs.getInt(2));
                    }
                }
            }
        }
        return counts;
    }

    /** The first {@code limit} waiting hosts of a task in creation order. */
    public List<String> waiting(long id, int limit) {
        return db.read(c -> {
            try (var ps = c.prepareStatement("SELECT host FROM task_host WHERE id = ? AND status = 'waiting' ORDER BY ii LIMIT ?")) {
                ps.setLong(1, id);
                ps.setInt(2, limit);
                try (var rs = ps.executeQuery()) {
                    var out = new ArrayList<String>();
                    while (rs.next()) {
                        out.add(rs.getString(1));
                    }
                    return out;
                }
            }
        });
    }

    /**
     * Moves waiting hosts to running with the given clock, and optionally sets the task action (the
     * pause list pauses the task behind a host). Returns the hosts that really moved: a host that
     * was cancelled or ignored meanwhile is skipped.
     */
    public List<String> dispatch(long id, List<String> hosts, long clock, Optional<TaskAction> thenAction) {
        return db.inTransaction(c -> {
            var moved = new ArrayList<String>();
            try (var ps = c.prepareStatement(
                    "UPDATE task_host SET status = 'running', clock = ?, stdout = '', stderr = '' WHERE id = ? AND host = ? AND status = 'waiting'")) {
                for (var h : hosts) {
                    ps.setLong(1, clock);
                    ps.setLong(2, id);
                    ps.setString(3, h);
                    if (ps.executeUpdate() == 1) {
                        moved.add(h);
                    }
                }
            }
            if (thenAction.isPresent()) {
                TaskStore.update(c, "UPDATE task_action SET action = ?, clock = ? WHERE id = ?", thenAction.get().wire(), clock, id);
            }
            return moved;
        });
    }

    /** Sets the task action (the scheduler pauses a task whose failures exceed its tolerance). */
    public void setAction(long id, TaskAction action, long clock) {
        db.inTransaction(c -> TaskStore.update(c, "UPDATE task_action SET action = ?, clock = ? WHERE id = ?", action.wire(), clock, id));
    }

    /** Ends a task when nothing is waiting, running or killing; true when this call ended it. */
    public boolean finishIfIdle(long id) {
        return db.inTransaction(c -> {
            var counts = counts(c, id);
            for (var e : counts.entrySet()) {
                if (e.getKey().isPending() && e.getValue() > 0) {
                    return false;
                }
            }
            TaskStore.update(c, "DELETE FROM task_scheduler WHERE id = ?", id);
            return TaskStore.update(c, "DELETE FROM task_action WHERE id = ?", id) == 1;
        });
    }

    /**
     * Stores results, each only on the run it belongs to (same clock) and only over a running,
     * killing or timed-out status; anything else (a duplicate, a stale clock after a redo, an
     * ignored host) changes nothing. Returns the results that changed a row.
     */
    public List<Result> record(List<Result> results) {
        if (results.isEmpty()) {
            return List.of();
        }
        return db.inTransaction(c -> {
            var stored = new ArrayList<Result>();
            try (var ps = c.prepareStatement("""
                    UPDATE task_host SET status = ?, stdout = ?, stderr = ?
                    WHERE id = ? AND host = ? AND clock = ? AND status IN ('running', 'killing', 'timeout')""")) {
                for (var r : results) {
                    ps.setString(1, r.status().wire());
                    ps.setString(2, r.stdout());
                    ps.setString(3, r.stderr());
                    ps.setLong(4, r.taskId());
                    ps.setString(5, r.host());
                    ps.setLong(6, r.clock());
                    if (ps.executeUpdate() == 1) {
                        stored.add(r);
                    }
                }
            }
            return stored;
        });
    }

    /** A host's current runs: running rows as START, killing rows as KILL. */
    public List<Assignment> assignments(String host) {
        return db.read(c -> {
            try (var ps = c.prepareStatement(
                    "SELECT id, clock, status FROM task_host WHERE host = ? AND status IN ('running', 'killing') ORDER BY id")) {
                ps.setString(1, host);
                try (var rs = ps.executeQuery()) {
                    var out = new ArrayList<Assignment>();
                    while (rs.next()) {
                        var kind = "killing".equals(rs.getString(3)) ? Assignment.Kind.KILL : Assignment.Kind.START;
                        out.add(new Assignment(rs.getLong(1), rs.getLong(2), kind));
                    }
                    return out;
                }
            }
        });
    }

    /** A running host whose clock is older than {@code before}: the server-side timeout backstop. */
    public record Overdue(String host, long clock) {
    }

    public List<Overdue> overdue(long id, long before) {
        return db.read(c -> {
            try (var ps = c.prepareStatement(
                    "SELECT host, clock FROM task_host WHERE id = ? AND status IN ('running', 'killing') AND clock < ?")) {
                ps.setLong(1, id);
                ps.setLong(2, before);
                try (var rs = ps.executeQuery()) {
                    var out = new ArrayList<Overdue>();
                    while (rs.next()) {
                        out.add(new Overdue(rs.getString(1), rs.getLong(2)));
                    }
                    return out;
                }
            }
        });
    }

    /** Marks one run timed out (unless its result landed meanwhile); true when it did. */
    public boolean timeout(long id, String host, long clock, String stderr) {
        return db.inTransaction(c -> TaskStore.update(c,
                "UPDATE task_host SET status = 'timeout', stderr = ? WHERE id = ? AND host = ? AND clock = ? AND status IN ('running', 'killing')",
                stderr, id, host, clock) == 1);
    }
}
