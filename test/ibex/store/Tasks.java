package ibex.store;

import ibex.core.TaskSpec;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;

/** Task specs for store tests, built through {@link TaskSpec#from} so they obey the API's rules. */
final class Tasks {
    /** An audit entry for actions in store tests. */
    static final AuditStore.Entry AUDIT = new AuditStore.Entry(0, 1, "alice", "127.0.0.1", "test", 0, "", "", "");

    private Tasks() {
    }

    static TaskSpec titled(String title, String creator, String action, String... hosts) {
        return TaskSpec.from(new TaskSpec.Request(title, "root", null, null, 0, "", "echo hi", "", "", action, creator,
                List.of(hosts)));
    }

    static TaskSpec spec(String... hosts) {
        return titled("job", "alice", "start", hosts);
    }

    /** Creates the task as the API does, with an audit entry about it; nothing starts. */
    static long create(TaskStore tasks, TaskSpec spec, Instant now) {
        return create(tasks, spec, now, TaskStore.Start.waiting(spec));
    }

    /** Creates the task as the API does, with an audit entry about it, starting {@code start}. */
    static long create(TaskStore tasks, TaskSpec spec, Instant now, TaskStore.Start start) {
        return tasks.create(spec, now, start, new AuditStore.Entry(0, now.toEpochMilli(), "tester", "127.0.0.1", "create", 0,
                String.join(",", spec.hosts()), "", ""));
    }

    /** The stores as a server named "test:1" makes them; one place to follow their constructors. */
    static DispatchStore dispatch(Database db) {
        return new DispatchStore(db, "test:1");
    }

    static ActionStore actions(Database db) {
        return new ActionStore(db, "test:1");
    }

    /** The current runs of one host. */
    static List<ibex.core.Assignment> assignments(DispatchStore dispatch, String host) {
        return dispatch.assignments(List.of(host)).get(host);
    }

    /** Now, at the store's precision (epoch milliseconds). */
    static Instant now() {
        return Instant.now().truncatedTo(ChronoUnit.MILLIS);
    }
}
