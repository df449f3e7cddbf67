package ibex.store;

import ibex.core.HostAction;
import ibex.core.HostChange;
import ibex.core.HostStatus;
import ibex.core.TaskAction;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Operator actions on tasks and hosts (reference §1.7, §1.8), each in one transaction with its
 * audit entry, so an action never takes effect unaudited. They return what changed for agents, so
 * the caller can push kills and starts at once instead of waiting for a heartbeat.
 */
public final class ActionStore {
    private final Database db;
    private final String origin;

    /** @param origin the server making the changes, named in the change log */
    public ActionStore(Database db, String origin) {
        this.db = db;
        this.origin = origin;
    }

    /** The outcome of an action: its error text for the API ("" when it worked) and the changes. */
    public record Outcome(String err, String dat, List<HostChange> changes) {
        static Outcome ok(List<HostChange> changes) {
            return new Outcome("", null, changes);
        }

        static Outcome error(String err) {
            return new Outcome(err, null, List.of());
        }
    }

    /**
     * start: this server takes the task; pause: no new hosts start; cancel: waiting hosts become
     * cancelled; kill: cancel, and running hosts become killing. A cancel or kill also gives this
     * server a task nobody owns (one created paused), so that somebody finishes it. The caller
     * wakes its scheduler, which plans the task at once: the original made a started task unowned
     * for any server's next look at all unowned tasks, and that look walked every paused task.
     * Returns empty (and audits nothing) when the task is already finished.
     */
    public Optional<Outcome> taskAction(long id, TaskAction action, long clock, AuditStore.Entry audit) {
        return db.inTransaction(c -> {
            if (TaskStore.update(c, "UPDATE task_action SET action = ?, clock = ? WHERE id = ?", action.wire(), clock, id) == 0) {
                return Optional.empty();
            }
            var changes = new ArrayList<HostChange>();
            switch (action) {
                case START -> TaskStore.update(c, "UPDATE task_scheduler SET scheduler = ? WHERE id = ?", origin, id);
                case PAUSE -> { }
                case CANCEL -> {
                    TaskStore.update(c, "UPDATE task_host SET status = 'cancelled' WHERE id = ? AND status = 'waiting'", id);
                    takeUnowned(c, id);
                }
                case KILL -> {
                    takeUnowned(c, id);
                    TaskStore.update(c, "UPDATE task_host SET status = 'cancelled' WHERE id = ? AND status = 'waiting'", id);
                    try (var ps = c.prepareStatement("SELECT host, clock FROM task_host WHERE id = ? AND status = 'running'")) {
                        ps.setLong(1, id);
                        try (var rs = ps.executeQuery()) {
                            while (rs.next()) {
                                changes.add(HostChange.kill(rs.getString(1), id, rs.getLong(2)));
                            }
                        }
                    }
                    TaskStore.update(c, "UPDATE task_host SET status = 'killing' WHERE id = ? AND status = 'running'", id);
                }
            }
            ClusterStore.log(c, origin, id, changes.stream().map(HostChange::host).toList(), clock);
            AuditStore.insert(c, List.of(audit));
            return Optional.of(Outcome.ok(changes));
        });
    }

    private void takeUnowned(Connection c, long id) throws SQLException {
        TaskStore.update(c, "UPDATE task_scheduler SET scheduler = ? WHERE id = ? AND scheduler = ''", origin, id);
    }

    /**
     * A host action on an unfinished task; empty when the task is already finished. Audited when
     * it takes effect (an outcome without an error).
     */
    public Optional<Outcome> hostAction(long id, String host, HostAction action, long clock, AuditStore.Entry audit) {
        return db.inTransaction(c -> {
            Optional<TaskAction> taskAction = taskAction(c, id);
            if (taskAction.isEmpty()) {
                return Optional.empty();
            }
            var row = hostRow(c, id, host);
            if (row.isEmpty()) {
                return Optional.of(Outcome.error("no such host"));
            }
            HostStatus status = row.get().status();
            long runClock = row.get().clock();
            var outcome = switch (action) {
                case IGNORE -> {
                    setStatus(c, id, host, HostStatus.IGNORED);
                    // The process, if any, is left alone (the original's meaning); its result will not land.
                    var drop = status.isPending() && status != HostStatus.WAITING
                            ? List.of(HostChange.drop(host, id)) : List.<HostChange>of();
                    yield taskAction.get() == TaskAction.PAUSE
                            ? new Outcome("", "you can click start to run the task", drop) : Outcome.ok(drop);
                }
                case KILL -> {
                    if (status != HostStatus.RUNNING && status != HostStatus.TIMEOUT) {
                        yield Outcome.error("current status cannot kill");
                    }
                    setStatus(c, id, host, HostStatus.KILLING);
                    yield Outcome.ok(List.of(HostChange.kill(host, id, runClock)));
                }
                case REDO -> {
                    long next = Math.max(clock, runClock + 1);
                    TaskStore.update(c, "UPDATE task_host SET status = 'running', clock = ?, stdout = '', stderr = '' WHERE id = ? AND host = ?",
                            next, id, host);
                    yield Outcome.ok(List.of(HostChange.start(host, id, next)));
                }
            };
            ClusterStore.log(c, origin, id, outcome.changes().stream().map(HostChange::host).toList(), clock);
            if (outcome.err().isEmpty()) {
                AuditStore.insert(c, List.of(audit));
            }
            return Optional.of(outcome);
        });
    }

    private record Row(HostStatus status, long clock) {
    }

    private static Optional<Row> hostRow(Connection c, long id, String host) throws SQLException {
        try (var ps = c.prepareStatement("SELECT status, clock FROM task_host WHERE id = ? AND host = ? FOR UPDATE")) {
            ps.setLong(1, id);
            ps.setString(2, host);
            try (var rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                var status = HostStatus.parse(rs.getString(1)).orElseThrow(() -> new SQLException("unknown host status"));
                return Optional.of(new Row(status, rs.getLong(2)));
            }
        }
    }

    private static Optional<TaskAction> taskAction(Connection c, long id) throws SQLException {
        try (var ps = c.prepareStatement("SELECT action FROM task_action WHERE id = ?")) {
            ps.setLong(1, id);
            try (var rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(TaskAction.parse(rs.getString(1)).orElse(TaskAction.PAUSE)) : Optional.empty();
            }
        }
    }

    private static void setStatus(Connection c, long id, String host, HostStatus s) throws SQLException {
        TaskStore.update(c, "UPDATE task_host SET status = ? WHERE id = ? AND host = ?", s.wire(), id, host);
    }
}
