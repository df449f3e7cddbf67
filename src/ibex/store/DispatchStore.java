package ibex.store;

import ibex.core.Assignment;
import ibex.core.HostStatus;
import ibex.core.TaskAction;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
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
    private final String origin;

    /** @param origin the server making the changes, named in the change log */
    public DispatchStore(Database db, String origin) {
        this.db = db;
        this.origin = origin;
    }

    /** A result as an agent reported it. */
    public record Result(long taskId, String host, long clock, HostStatus status, String stdout, String stderr) {
    }

    /**
     * What the planner needs to know about one task: its definition, host counts by status, and
     * the oldest clock of its running or killing hosts ({@link Long#MAX_VALUE} when none), so the
     * scheduler asks for old runs only when there are some (each ask reads every running row).
     */
    public record TaskState(long id, TaskAction action, int batch, int tolerance, int timeout, String pause,
                            Map<HostStatus, Integer> counts, long oldestPending) {
        public int count(HostStatus s) {
            return counts.getOrDefault(s, 0);
        }
    }

    private record Tally(Map<HostStatus, Integer> counts, long oldestPending) {
    }

    /** From this many hosts on, a dispatch checks whether they are all the waiting ones (one UPDATE then). */
    static final int ALL_AT_ONCE = 100;

    /** Unfinished tasks that nobody schedules yet and that are not paused, oldest first. */
    public List<Long> orphans(int limit) {
        return ids("""
                SELECT s.id FROM task_scheduler s JOIN task_action a ON a.id = s.id
                WHERE s.scheduler = '' AND a.action <> 'pause' ORDER BY s.id LIMIT ?""", "", limit);
    }

    /** Unowned tasks that are not paused among the next ones by id; {@code last} is the last id looked at. */
    public record NewTasks(List<Long> orphans, long last) {
    }

    /**
     * The unowned tasks among the first {@code limit} tasks with an id above {@code after}: those
     * created since a pass last looked. A range of the primary key, filtered here: with the owner
     * in the WHERE clause the database walked every unowned (paused) task on each call.
     */
    public NewTasks orphansAfter(long after, int limit) {
        return db.read(c -> {
            try (var ps = c.prepareStatement("SELECT s.id, s.scheduler, a.action FROM task_scheduler s JOIN task_action a ON a.id = s.id "
                    + "WHERE s.id > ? ORDER BY s.id LIMIT ?")) {
                ps.setLong(1, after);
                ps.setInt(2, limit);
                try (var rs = ps.executeQuery()) {
                    var out = new ArrayList<Long>();
                    long last = after;
                    while (rs.next()) {
                        last = rs.getLong(1);
                        if (rs.getString(2).isEmpty() && !TaskAction.PAUSE.wire().equals(rs.getString(3))) {
                            out.add(last);
                        }
                    }
                    return new NewTasks(out, last);
                }
            }
        });
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
                    var tally = tally(c, id);
                    return Optional.of(new TaskState(id, action, rs.getInt(2), rs.getInt(3), rs.getInt(4),
                            rs.getString(5), tally.counts(), tally.oldestPending()));
                }
            }
        });
    }

    private static Tally tally(Connection c, long id) throws SQLException {
        var counts = new EnumMap<HostStatus, Integer>(HostStatus.class);
        long oldest = Long.MAX_VALUE;
        try (var ps = c.prepareStatement("SELECT status, count(*), min(clock) FROM task_host WHERE id = ? GROUP BY status")) {
            ps.setLong(1, id);
            try (var rs = ps.executeQuery()) {
                while (rs.next()) {
                    var s = HostStatus.parse(rs.getString(1));
                    if (s.isPresent()) {
                        counts.put(s.get(), rs.getInt(2));
                        if (s.get() == HostStatus.RUNNING || s.get() == HostStatus.KILLING) {
                            oldest = Math.min(oldest, rs.getLong(3));
                        }
                    }
                }
            }
        }
        return new Tally(counts, oldest);
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
            List<String> moved;
            if (hosts.size() >= ALL_AT_ONCE && new HashSet<>(hosts).equals(new HashSet<>(waitingIn(c, id)))) {
                // Every waiting host (a paused task started with batch 0, a large last batch): one
                // statement instead of one per host, which took 1.5 s for 5,000 hosts on H2. Fewer
                // rows changed: a host was cancelled meanwhile; ask which moved. Only for many hosts:
                // the check reads every waiting host, too much for each small batch of a big task.
                int changed = TaskStore.update(c, "UPDATE task_host SET status = 'running', clock = ?, stdout = '', stderr = '' "
                        + "WHERE id = ? AND status = 'waiting'", clock, id);
                moved = changed == hosts.size() ? new ArrayList<>(hosts) : runningSince(c, id, hosts, clock);
            } else {
                moved = new ArrayList<>();
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
            }
            if (thenAction.isPresent()) {
                TaskStore.update(c, "UPDATE task_action SET action = ?, clock = ? WHERE id = ?", thenAction.get().wire(), clock, id);
            }
            ClusterStore.log(c, origin, id, moved, clock);
            return moved;
        });
    }

    private static List<String> waitingIn(Connection c, long id) throws SQLException {
        return ClusterStore.strings(c, "SELECT host FROM task_host WHERE id = ? AND status = 'waiting'", id);
    }

    /** Those of {@code hosts} that run with {@code clock}, in the given order. */
    private static List<String> runningSince(Connection c, long id, List<String> hosts, long clock) throws SQLException {
        var running = new HashSet<String>();
        for (int i = 0; i < hosts.size(); i += 500) {
            var part = hosts.subList(i, Math.min(hosts.size(), i + 500));
            try (var ps = c.prepareStatement("SELECT host FROM task_host WHERE id = ? AND clock = ? AND status = 'running' AND host IN ("
                    + TaskStore.marks(part.size()) + ")")) {
                var args = new ArrayList<Object>(List.of(id, clock));
                args.addAll(part);
                TaskStore.bind(ps, args);
                try (var rs = ps.executeQuery()) {
                    while (rs.next()) {
                        running.add(rs.getString(1));
                    }
                }
            }
        }
        var out = new ArrayList<String>();
        for (var h : hosts) {
            if (running.contains(h)) {
                out.add(h);
            }
        }
        return out;
    }

    /** Sets the task action (the scheduler pauses a task whose failures exceed its tolerance). */
    public void setAction(long id, TaskAction action, long clock) {
        db.inTransaction(c -> TaskStore.update(c, "UPDATE task_action SET action = ?, clock = ? WHERE id = ?", action.wire(), clock, id));
    }

    /** Ends a task when nothing is waiting, running or killing; true when this call ended it. */
    public boolean finishIfIdle(long id) {
        return db.inTransaction(c -> {
            var counts = tally(c, id).counts();
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

    /** Hosts' current runs: running rows as START, killing rows as KILL; every host gets a list. */
    public Map<String, List<Assignment>> assignments(Collection<String> hosts) {
        var out = new HashMap<String, List<Assignment>>();
        hosts.forEach(h -> out.put(h, new ArrayList<>()));
        if (hosts.isEmpty()) {
            return out;
        }
        var list = List.copyOf(hosts);
        return db.read(c -> {
            try (var ps = c.prepareStatement("SELECT host, id, clock, status FROM task_host WHERE host IN ("
                    + TaskStore.marks(list.size()) + ") AND status IN ('running', 'killing') ORDER BY id")) {
                TaskStore.bind(ps, list);
                try (var rs = ps.executeQuery()) {
                    while (rs.next()) {
                        var kind = "killing".equals(rs.getString(4)) ? Assignment.Kind.KILL : Assignment.Kind.START;
                        out.get(rs.getString(1)).add(new Assignment(rs.getLong(2), rs.getLong(3), kind));
                    }
                    return out;
                }
            }
        });
    }

    /** One run of a host: its name and the clock it was started with. */
    public record Run(String host, long clock) {
    }

    /** Running hosts whose run started in (from, to]: the ones due for the agent-presence check. */
    public List<Run> running(long id, long from, long to) {
        return runs("SELECT host, clock FROM task_host WHERE id = ? AND status = 'running' AND clock > ? AND clock <= ?", id, from, to);
    }

    public List<Run> overdue(long id, long before) {
        return runs("SELECT host, clock FROM task_host WHERE id = ? AND status IN ('running', 'killing') AND clock < ?", id, before);
    }

    private List<Run> runs(String sql, Object... args) {
        return db.read(c -> {
            try (var ps = c.prepareStatement(sql)) {
                TaskStore.bind(ps, List.of(args));
                try (var rs = ps.executeQuery()) {
                    var out = new ArrayList<Run>();
                    while (rs.next()) {
                        out.add(new Run(rs.getString(1), rs.getLong(2)));
                    }
                    return out;
                }
            }
        });
    }

    /**
     * Ends one run the server gave up on: {@code timeout} for a run past its timeout and the
     * backstop, {@code failed} for a host whose agent never showed up. Unless its result landed
     * meanwhile; true when this call ended it.
     */
    public boolean giveUp(long id, String host, long clock, HostStatus status, String stderr, long now) {
        return db.inTransaction(c -> {
            boolean ended = TaskStore.update(c,
                    "UPDATE task_host SET status = ?, stderr = ? WHERE id = ? AND host = ? AND clock = ? AND status IN ('running', 'killing')",
                    status.wire(), stderr, id, host, clock) == 1;
            if (ended) {
                ClusterStore.log(c, origin, id, List.of(host), now);
            }
            return ended;
        });
    }
}
