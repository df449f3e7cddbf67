package ibex.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.core.HostStatus;
import ibex.core.TaskAction;
import ibex.core.TaskHost;
import ibex.core.TaskMeta;
import ibex.core.TaskSpec;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class TaskStoreTest {
    private static final String BOTH = "ibex.store.TestDatabases#databases";

    @ParameterizedTest
    @MethodSource(BOTH)
    void create_thenMetaHostsAndAction_readBackEveryField(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var spec = TaskSpec.from(new TaskSpec.Request("restart nginx", " deploy ", TaskSpec.Amount.count(2), TaskSpec.Amount.count(1), 0, "web-2 ，web-3",
                    "#!/bin/sh\necho \"$@\"\n", "a,,b", "{\"k\":\"v\"}", "pause", "alice",
                    List.of(" web-3", "web-1", "#skip", "", "web-2", "web-1")));
            Instant now = Tasks.now();
            long id = Tasks.create(tasks, spec, now);

            TaskMeta m = tasks.meta(id).orElseThrow();
            assertEquals(new TaskMeta(id, "restart nginx FH: web-3", "deploy", 2, 1, 30, "web-2,web-3",
                    "#!/bin/sh\necho \"$@\"\n", "a,,b", "{\"k\":\"v\"}", "alice", now, false), m);
            assertEquals(List.of(
                    new TaskHost(id, "web-3", HostStatus.WAITING, "", ""),
                    new TaskHost(id, "web-1", HostStatus.WAITING, "", ""),
                    new TaskHost(id, "web-2", HostStatus.WAITING, "", "")),
                    tasks.hosts(id, TaskStore.Output.BOTH), "creation order, each host once, all waiting");
            assertEquals(Optional.of(TaskAction.PAUSE), tasks.action(id));
            assertEquals(Optional.of(new TaskHost(id, "web-1", HostStatus.WAITING, "", "")),
                    tasks.host(id, "web-1", TaskStore.Output.BOTH));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void create_withAStart_storesItsHostsRunningAtTheCreationClock_ownedAndLogged(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var cluster = new ClusterStore(db);
            long head = cluster.logHead();
            Instant now = Tasks.now();
            long id = Tasks.create(tasks, Tasks.spec("h1", "h2", "h3"), now, new TaskStore.Start("test:1", List.of("h1", "h2"), TaskAction.PAUSE));
            assertEquals(List.of(HostStatus.RUNNING, HostStatus.RUNNING, HostStatus.WAITING),
                    tasks.hosts(id, TaskStore.Output.NONE).stream().map(TaskHost::status).toList());
            assertEquals(Optional.of(TaskAction.PAUSE), tasks.action(id), "the start's action, not the spec's");
            var dispatch = Tasks.dispatch(db);
            assertEquals(List.of(id), dispatch.owned("test:1", 10));
            assertEquals(List.of(new ibex.core.Assignment(id, now.toEpochMilli(), ibex.core.Assignment.Kind.START)),
                    Tasks.assignments(dispatch, "h1"), "the run's clock is the creation time");
            assertEquals(List.of("h1", "h2"), cluster.logAfter(head, 10).stream().map(ClusterStore.LogEntry::host).toList());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void create_givesEachTaskItsOwnIdAndHosts(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            long a = Tasks.create(tasks, Tasks.spec("h1", "h2"), Tasks.now());
            long b = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            assertTrue(b > a, "ids grow: " + a + ", " + b);
            assertEquals(List.of("h1", "h2"), tasks.hosts(a, TaskStore.Output.NONE).stream().map(TaskHost::host).toList());
            assertEquals(List.of("h1"), tasks.hosts(b, TaskStore.Output.NONE).stream().map(TaskHost::host).toList());
        }
    }

    /**
     * Creations that arrive together are written as one group, one JDBC batch per table: each must
     * still get its own id, rows and audit entry (a batch's generated keys mapped to the wrong
     * creation, or host rows shifted between tasks, show here). Tasks differ in host count and action.
     */
    @ParameterizedTest
    @MethodSource(BOTH)
    void concurrentCreations_eachGetTheirOwnRowsAndAuditEntry(Supplier<Database> fresh) throws Exception {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var audit = new AuditStore(db);
            int n = 48;
            var ids = new long[n];
            var specs = new TaskSpec[n];
            var start = new java.util.concurrent.CountDownLatch(1);
            try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
                var futures = new java.util.ArrayList<java.util.concurrent.Future<?>>();
                for (int i = 0; i < n; i++) {
                    int k = i;
                    futures.add(pool.submit(() -> {
                        start.await();
                        var spec = Tasks.titled("t" + k, "c" + k, k % 2 == 0 ? "pause" : "start", hosts(k).toArray(String[]::new));
                        specs[k] = spec;
                        ids[k] = tasks.create(spec, Tasks.now(), TaskStore.Start.waiting(spec), new AuditStore.Entry(0, 1, "u" + k, "127.0.0.1", "create", 0,
                                String.join(",", spec.hosts()), "", "d" + k));
                        return null;
                    }));
                }
                start.countDown();
                for (var f : futures) {
                    f.get();
                }
            }
            assertEquals(n, java.util.Arrays.stream(ids).distinct().count(), "distinct ids");
            for (int k = 0; k < n; k++) {
                long id = ids[k];
                var m = tasks.meta(id).orElseThrow();
                assertEquals(List.of(specs[k].title(), "c" + k), List.of(m.title(), m.creator()), "task " + id + " is creation " + k);
                assertEquals(hosts(k), tasks.hosts(id, TaskStore.Output.NONE).stream().map(TaskHost::host).toList(), "hosts of " + id);
                assertEquals(Optional.of(k % 2 == 0 ? TaskAction.PAUSE : TaskAction.START), tasks.action(id), "action of " + id);
                var entries = audit.list(id, 10);
                assertEquals(1, entries.size(), "one audit entry for task " + id + ": " + entries);
                assertEquals(List.of("u" + k, String.join(",", hosts(k)), "d" + k),
                        List.of(entries.getFirst().actor(), entries.getFirst().hosts(), entries.getFirst().detail()));
            }
        }
    }

    /** Creation k's hosts: one to three of them, named after k. */
    private static List<String> hosts(int k) {
        return java.util.stream.IntStream.rangeClosed(1, k % 3 + 1).mapToObj(j -> "h" + k + "-" + j).toList();
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void unknownTaskOrHost_isEmpty(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            long id = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            assertEquals(Optional.empty(), tasks.meta(id + 1));
            assertEquals(Optional.empty(), tasks.action(id + 1));
            assertEquals(List.of(), tasks.hosts(id + 1, TaskStore.Output.BOTH));
            assertEquals(Optional.empty(), tasks.host(id, "h2", TaskStore.Output.BOTH));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void list_filtersByWordsNotWordsCreatorAndDays_newestFirst(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            Instant now = Tasks.now();
            long old = Tasks.create(tasks, Tasks.titled("restart nginx", "alice", "start", "h1"), now.minus(Duration.ofDays(10)));
            long a = Tasks.create(tasks, Tasks.titled("restart nginx", "alice", "start", "h1"), now.minusSeconds(30));
            long b = Tasks.create(tasks, Tasks.titled("restart mysql", "bob", "start", "h1"), now.minusSeconds(20));
            long c = Tasks.create(tasks, Tasks.titled("clean 100% disk_a", "alice", "start", "h1"), now.minusSeconds(10));
            Instant week = now.minus(Duration.ofDays(7));

            assertEquals(List.of(c, b, a), ids(tasks.list(List.of(), null, week, 20, 0)));
            assertEquals(3, tasks.list(List.of(), null, week, 20, 0).total());
            assertEquals(List.of(c, b, a, old), ids(tasks.list(List.of(), "", now.minus(Duration.ofDays(11)), 20, 0)));
            assertEquals(List.of(b, a), ids(tasks.list(List.of("restart"), null, week, 20, 0)));
            assertEquals(List.of(a), ids(tasks.list(List.of("restart", "-mysql"), null, week, 20, 0)));
            assertEquals(List.of(c), ids(tasks.list(List.of("-restart"), null, week, 20, 0)));
            assertEquals(List.of(c, a), ids(tasks.list(List.of(), "alice", week, 20, 0)));
            assertEquals(List.of(), ids(tasks.list(List.of(), "ali", week, 20, 0)), "creator is an exact match");
            assertEquals(List.of(c), ids(tasks.list(List.of("%"), null, week, 20, 0)), "% is literal, not a wildcard");
            assertEquals(List.of(c), ids(tasks.list(List.of("_"), null, week, 20, 0)), "_ is literal, not a wildcard");
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void list_pages_andTotalCountsEveryMatch(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            Instant now = Tasks.now();
            var created = new java.util.ArrayList<Long>();
            for (int i = 0; i < 5; i++) {
                created.add(Tasks.create(tasks, Tasks.titled("t" + i, "alice", "start", "h1"), now.minusSeconds(50 - i)));
            }
            Instant week = now.minus(Duration.ofDays(7));
            var p1 = tasks.list(List.of(), null, week, 2, 0);
            var p3 = tasks.list(List.of(), null, week, 2, 4);
            assertEquals(5, p1.total());
            assertEquals(List.of(created.get(4), created.get(3)), ids(p1));
            assertEquals(5, p3.total());
            assertEquals(List.of(created.get(0)), ids(p3));
            assertEquals(List.of(), ids(tasks.list(List.of(), null, week, 2, 10)));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void list_marksFinishedTasksDone(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long open = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            long finished = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            Tasks.actions(db).taskAction(finished, TaskAction.CANCEL, 1, Tasks.AUDIT);
            assertTrue(dispatch.finishIfIdle(finished));
            var list = tasks.list(List.of(), null, Tasks.now().minus(Duration.ofDays(1)), 20, 0).list();
            assertEquals(List.of(finished, open), list.stream().map(TaskMeta::id).toList());
            assertEquals(List.of(true, false), list.stream().map(TaskMeta::done).toList());
            assertTrue(tasks.meta(finished).orElseThrow().done());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void doneIds_givesFinishedAndUnknownIds_onceEach_inRequestOrder(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            long open = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            long finished = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            Tasks.actions(db).taskAction(finished, TaskAction.CANCEL, 1, Tasks.AUDIT);
            Tasks.dispatch(db).finishIfIdle(finished);
            long unknown = finished + 100;
            assertEquals(List.of(unknown, finished), tasks.doneIds(List.of(unknown, open, finished, unknown, open)));
            assertEquals(List.of(), tasks.doneIds(List.of(open)));
            assertEquals(List.of(), tasks.doneIds(List.of()));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void output_of1MiBOfMultiByteUtf8_isStoredAndReadBackIntact(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            long id = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            dispatch.dispatch(id, List.of("h1"), 1000, Optional.empty());
            // 2-, 3- and 4-byte sequences (the last needs utf8mb4 on MariaDB), 10 bytes a round.
            String stdout = "é€😀\n".repeat(1024 * 1024 / 10 + 1);
            String stderr = "エラー🔥".repeat(1024 * 1024 / 13 + 1);
            assertTrue(stdout.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 1024 * 1024);
            assertTrue(stderr.getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 1024 * 1024);
            var r = new DispatchStore.Result(id, "h1", 1000, HostStatus.SUCCESS, stdout, stderr);
            assertEquals(List.of(r), dispatch.record(List.of(r)));

            var both = tasks.host(id, "h1", TaskStore.Output.BOTH).orElseThrow();
            assertEquals(stdout, both.stdout());
            assertEquals(stderr, both.stderr());
            var out = tasks.host(id, "h1", TaskStore.Output.STDOUT).orElseThrow();
            assertEquals(stdout, out.stdout());
            assertEquals("", out.stderr());
            var err = tasks.hosts(id, TaskStore.Output.STDERR).getFirst();
            assertEquals("", err.stdout());
            assertEquals(stderr, err.stderr());
            assertEquals(new TaskHost(id, "h1", HostStatus.SUCCESS, "", ""), tasks.hosts(id, TaskStore.Output.NONE).getFirst());
        }
    }

    private static List<Long> ids(TaskStore.Page page) {
        return page.list().stream().map(TaskMeta::id).toList();
    }
}
