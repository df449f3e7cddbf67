package ibex.store;

import java.util.Map;
import java.util.TreeMap;

/**
 * Counts for {@code /metrics}: unfinished tasks by action and their hosts by status. Only
 * unfinished tasks are counted (a {@code task_action} row exists until a task is done), reached
 * through the primary key of task_action and the (id, status) index of task_host, so a scrape
 * costs in proportion to the work in flight, never to the history kept in task_host.
 */
public final class StatusStore {
    private final Database db;

    public StatusStore(Database db) {
        this.db = db;
    }

    /** Unfinished tasks by action (start, pause, ...). */
    public Map<String, Long> tasksByAction() {
        return counts("SELECT action, count(*) FROM task_action GROUP BY action");
    }

    /** Hosts of unfinished tasks by status (waiting, running, success, ...). */
    public Map<String, Long> hostsByStatus() {
        return counts("SELECT h.status, count(*) FROM task_action a JOIN task_host h ON h.id = a.id GROUP BY h.status");
    }

    private Map<String, Long> counts(String sql) {
        return db.read(c -> {
            try (var ps = c.prepareStatement(sql); var rs = ps.executeQuery()) {
                var out = new TreeMap<String, Long>();
                while (rs.next()) {
                    out.put(rs.getString(1), rs.getLong(2));
                }
                return out;
            }
        });
    }
}
