package ibex.server.rpc;

import ibex.store.TaskStore;
import ibex.wire.TaskScript;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * Task inputs for agents, read once from the store and kept in a small LRU: a task for 10,000
 * hosts is loaded once, not once per host. Task definitions never change, so nothing goes stale.
 */
final class Scripts {
    private static final int CAPACITY = 1024;
    private final TaskStore tasks;
    private final Map<Long, TaskScript> cache = new LinkedHashMap<>(64, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, TaskScript> eldest) {
            return size() > CAPACITY;
        }
    };

    Scripts(TaskStore tasks) {
        this.tasks = tasks;
    }

    Optional<TaskScript> get(long taskId) {
        synchronized (cache) {
            var hit = cache.get(taskId);
            if (hit != null) {
                return Optional.of(hit);
            }
        }
        var loaded = tasks.meta(taskId).map(m -> new TaskScript(m.id(), m.script(), m.args(), m.stdin(), m.account(), m.timeout()));
        loaded.ifPresent(s -> {
            synchronized (cache) {
                cache.put(taskId, s);
            }
        });
        return loaded;
    }
}
