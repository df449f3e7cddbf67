package ibex.store;

import ibex.core.HostStatus;
import ibex.core.TaskAction;
import ibex.core.TaskHost;
import ibex.core.TaskMeta;
import ibex.core.TaskSpec;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Tasks as the API reads and creates them: definitions, host rows, output. Scheduling writes live
 * in {@link DispatchStore}. Every query here is served by an index of sql/ibex.sql.
 */
public final class TaskStore {
    private final Database db;

    public TaskStore(Database db) {
        this.db = db;
        this.creates = new GroupCommit<>(64, db.isEmbedded() ? 1 : CREATE_WRITERS_MYSQL, this::insertAll);
    }

    /** Which output columns a host query loads; the others come back as "". */
    public enum Output { NONE, STDOUT, STDERR, BOTH }

    /** One page of the task list and the number of tasks that matched. */
    public record Page(long total, List<TaskMeta> list) {
    }

    /**
     * What a new task does at once, decided by the scheduler before it is stored: the server that
     * owns it ("" = none yet), the hosts that start in the creating transaction, and its action
     * (the pause list may pause it behind one of them).
     */
    public record Start(String owner, List<String> running, TaskAction action) {
        public Start {
            running = List.copyOf(running);
        }

        /** Nothing starts: the task waits, unowned, for a scheduler (or for a start action). */
        public static Start waiting(TaskSpec spec) {
            return new Start("", List.of(), spec.action());
        }
    }

    private record Create(TaskSpec spec, Instant now, Start start, AuditStore.Entry audit) {
    }

    /**
     * Creations arriving together share a transaction (see GroupCommit; issue 6, P6). On MySQL
     * several groups may be written at once (creations need no order among themselves); H2 writes
     * one commit at a time whatever the callers do, so more writers would only split the groups.
     */
    private final GroupCommit<Create, Long> creates;
    /** Measured at 16 connections (P6, MariaDB): 2,823/s with one writer, 2,921 with two, 3,378 with four. */
    private static final int CREATE_WRITERS_MYSQL = 4;

    /**
     * Stores a new task in one transaction, its {@code start} hosts already running with the
     * creation time as their clock (one write per host row, not an insert and then an update:
     * BENCHMARKS.md P3), with its audit entry (about the new id); returns its id. A task therefore
     * never exists unaudited, and its creation costs one commit, not one for the task and another
     * for the entry.
     */
    public long create(TaskSpec spec, Instant now, Start start, AuditStore.Entry audit) {
        return creates.write(new Create(spec, now, start, audit));
    }

    /**
     * Writes a group of creations with one JDBC batch per table, so the group costs five
     * statements (five round trips on MySQL, where the batches become multi-row INSERTs) whatever
     * its size, instead of five per creation; plus the change-log rows of tasks that start.
     */
    private List<Long> insertAll(List<Create> batch) {
        return db.inTransaction(c -> {
            var ids = insertMeta(c, batch);
            var audits = new ArrayList<AuditStore.Entry>(batch.size());
            try (var action = c.prepareStatement("INSERT INTO task_action (id, action, clock) VALUES (?, ?, ?)");
                 var scheduler = c.prepareStatement("INSERT INTO task_scheduler (id, scheduler) VALUES (?, ?)");
                 var hosts = c.prepareStatement("INSERT INTO task_host (id, host, status, clock, stdout, stderr) VALUES (?, ?, ?, ?, '', '')")) {
                for (int i = 0; i < batch.size(); i++) {
                    long id = ids.get(i);
                    var b = batch.get(i);
                    long clock = b.now().toEpochMilli();
                    action.setLong(1, id);
                    action.setString(2, b.start().action().wire());
                    action.setLong(3, clock);
                    action.addBatch();
                    scheduler.setLong(1, id);
                    scheduler.setString(2, b.start().owner());
                    scheduler.addBatch();
                    var running = new HashSet<>(b.start().running());
                    for (var h : b.spec().hosts()) {
                        boolean runs = running.contains(h);
                        hosts.setLong(1, id);
                        hosts.setString(2, h);
                        hosts.setString(3, (runs ? HostStatus.RUNNING : HostStatus.WAITING).wire());
                        hosts.setLong(4, runs ? clock : 0);
                        hosts.addBatch();
                    }
                    audits.add(b.audit().forTask(id));
                }
                action.executeBatch();
                scheduler.executeBatch();
                hosts.executeBatch();
            }
            AuditStore.insert(c, audits);
            for (int i = 0; i < batch.size(); i++) {
                var b = batch.get(i);
                ClusterStore.log(c, b.start().owner(), ids.get(i), b.start().running(), b.now().toEpochMilli());
            }
            return ids;
        });
    }

    /** The task_meta rows of a group; returns their ids in the group's order (JDBC's batch keys). */
    private static List<Long> insertMeta(Connection c, List<Create> batch) throws SQLException {
        try (var ps = c.prepareStatement("""
                INSERT INTO task_meta (title, account, batch, tolerance, timeout, pause, script, args, stdin, creator, created)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""", Statement.RETURN_GENERATED_KEYS)) {
            for (var b : batch) {
                var spec = b.spec();
                ps.setString(1, spec.title());
                ps.setString(2, spec.account());
                ps.setInt(3, spec.batch());
                ps.setInt(4, spec.tolerance());
                ps.setInt(5, spec.timeout());
                ps.setString(6, spec.pause());
                ps.setString(7, spec.script());
                ps.setString(8, spec.args());
                ps.setString(9, spec.stdin());
                ps.setString(10, spec.creator());
                ps.setLong(11, b.now().toEpochMilli());
                ps.addBatch();
            }
            ps.executeBatch();
            var ids = new ArrayList<Long>(batch.size());
            try (var keys = ps.getGeneratedKeys()) {
                while (keys.next()) {
                    ids.add(keys.getLong(1));
                }
            }
            if (ids.size() != batch.size()) {
                throw new SQLException("task_meta: " + batch.size() + " rows inserted but " + ids.size() + " ids generated");
            }
            return ids;
        }
    }

    private static final String META_COLUMNS = """
            m.id, m.title, m.account, m.batch, m.tolerance, m.timeout, m.pause, m.script, m.args, m.stdin,
            m.creator, m.created, a.id IS NULL AS done""";

    public Optional<TaskMeta> meta(long id) {
        return db.read(c -> {
            try (var ps = c.prepareStatement("SELECT " + META_COLUMNS
                    + " FROM task_meta m LEFT JOIN task_action a ON a.id = m.id WHERE m.id = ?")) {
                ps.setLong(1, id);
                try (var rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(meta(rs)) : Optional.empty();
                }
            }
        });
    }

    /**
     * The original's list: each query word is a title substring ("-word" excludes it), creator an
     * exact match, created within {@code days}; newest first. {@code offset} is (p-1)*limit.
     */
    public Page list(List<String> words, String creator, Instant since, int limit, int offset) {
        var where = new StringBuilder(" WHERE m.created > ?");
        var args = new ArrayList<Object>();
        args.add(since.toEpochMilli());
        if (creator != null && !creator.isEmpty()) {
            where.append(" AND m.creator = ?");
            args.add(creator);
        }
        for (var w : words) {
            boolean not = w.startsWith("-") && w.length() > 1;
            where.append(not ? " AND m.title NOT LIKE ?" : " AND m.title LIKE ?");
            args.add("%" + likeEscape(not ? w.substring(1) : w) + "%");
        }
        return db.read(c -> {
            long total;
            try (var ps = c.prepareStatement("SELECT count(*) FROM task_meta m" + where)) {
                bind(ps, args);
                try (var rs = ps.executeQuery()) {
                    rs.next();
                    total = rs.getLong(1);
                }
            }
            var list = new ArrayList<TaskMeta>();
            try (var ps = c.prepareStatement("SELECT " + META_COLUMNS + " FROM task_meta m LEFT JOIN task_action a ON a.id = m.id"
                    + where + " ORDER BY m.created DESC, m.id DESC LIMIT ? OFFSET ?")) {
                var all = new ArrayList<>(args);
                all.add(limit);
                all.add(offset);
                bind(ps, all);
                try (var rs = ps.executeQuery()) {
                    while (rs.next()) {
                        list.add(meta(rs));
                    }
                }
            }
            return new Page(total, List.copyOf(list));
        });
    }

    /** The task's action, or empty once the task is done (its action row is gone). */
    public Optional<TaskAction> action(long id) {
        return db.read(c -> {
            try (var ps = c.prepareStatement("SELECT action FROM task_action WHERE id = ?")) {
                ps.setLong(1, id);
                try (var rs = ps.executeQuery()) {
                    return rs.next() ? TaskAction.parse(rs.getString(1)) : Optional.empty();
                }
            }
        });
    }

    /** The hosts of a task in creation order. */
    public List<TaskHost> hosts(long id, Output output) {
        return db.read(c -> {
            try (var ps = c.prepareStatement("SELECT id, host, status, " + outputColumns(output)
                    + " FROM task_host WHERE id = ? ORDER BY ii")) {
                ps.setLong(1, id);
                try (var rs = ps.executeQuery()) {
                    var list = new ArrayList<TaskHost>();
                    while (rs.next()) {
                        list.add(host(rs));
                    }
                    return List.copyOf(list);
                }
            }
        });
    }

    public Optional<TaskHost> host(long id, String host, Output output) {
        return db.read(c -> {
            try (var ps = c.prepareStatement("SELECT id, host, status, " + outputColumns(output)
                    + " FROM task_host WHERE id = ? AND host = ?")) {
                ps.setLong(1, id);
                ps.setString(2, host);
                try (var rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(host(rs)) : Optional.empty();
                }
            }
        });
    }

    /** Of the given ids, those that are finished or unknown (the original counts unknown as done). */
    public List<Long> doneIds(Collection<Long> ids) {
        if (ids.isEmpty()) {
            return List.of();
        }
        var unique = List.copyOf(new LinkedHashSet<>(ids));
        Set<Long> open = db.read(c -> {
            var found = new java.util.HashSet<Long>();
            try (var ps = c.prepareStatement("SELECT id FROM task_action WHERE id IN (" + marks(unique.size()) + ")")) {
                bind(ps, unique);
                try (var rs = ps.executeQuery()) {
                    while (rs.next()) {
                        found.add(rs.getLong(1));
                    }
                }
            }
            return found;
        });
        return unique.stream().filter(i -> !open.contains(i)).toList();
    }

    private static String outputColumns(Output o) {
        return switch (o) {
            case NONE -> "'' AS stdout, '' AS stderr";
            case STDOUT -> "stdout, '' AS stderr";
            case STDERR -> "'' AS stdout, stderr";
            case BOTH -> "stdout, stderr";
        };
    }

    private static TaskMeta meta(ResultSet rs) throws SQLException {
        return new TaskMeta(rs.getLong("id"), rs.getString("title"), rs.getString("account"), rs.getInt("batch"),
                rs.getInt("tolerance"), rs.getInt("timeout"), rs.getString("pause"), rs.getString("script"),
                rs.getString("args"), rs.getString("stdin"), rs.getString("creator"),
                Instant.ofEpochMilli(rs.getLong("created")), rs.getBoolean("done"));
    }

    private static TaskHost host(ResultSet rs) throws SQLException {
        var status = HostStatus.parse(rs.getString("status"))
                .orElseThrow(() -> new SQLException("unknown host status '" + safe(rs, "status") + "'"));
        return new TaskHost(rs.getLong("id"), rs.getString("host"), status,
                nullToEmpty(rs.getString("stdout")), nullToEmpty(rs.getString("stderr")));
    }

    private static String safe(ResultSet rs, String col) {
        try {
            return rs.getString(col);
        } catch (SQLException e) {
            return "?";
        }
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }

    private static String likeEscape(String s) {
        return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
    }

    static String marks(int n) {
        return String.join(", ", java.util.Collections.nCopies(n, "?"));
    }

    static void bind(PreparedStatement ps, List<?> args) throws SQLException {
        for (int i = 0; i < args.size(); i++) {
            ps.setObject(i + 1, args.get(i));
        }
    }

    static int update(Connection c, String sql, Object... args) throws SQLException {
        try (var ps = c.prepareStatement(sql)) {
            bind(ps, List.of(args));
            return ps.executeUpdate();
        }
    }
}
