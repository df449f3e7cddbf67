package ibex.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.core.HostStatus;
import ibex.core.TaskAction;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ClusterStoreTest {
    private static final String BOTH = "ibex.store.TestDatabases#databases";

    @ParameterizedTest
    @MethodSource(BOTH)
    void retention_deletesOnlyFinishedTasksOlderThanTheCutoff_inBatches_withTheirHosts(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var tasks = new TaskStore(db);
            var dispatch = Tasks.dispatch(db);
            var cluster = new ClusterStore(db);
            var old = Tasks.now().minus(Duration.ofDays(40));
            var oldDone = new java.util.ArrayList<Long>();
            for (int i = 0; i < 5; i++) {
                long id = Tasks.create(tasks, Tasks.spec("h1", "h2"), old);
                Tasks.actions(db).taskAction(id, TaskAction.CANCEL, 1, Tasks.AUDIT);
                assertTrue(dispatch.finishIfIdle(id));
                oldDone.add(id);
            }
            long oldOpen = Tasks.create(tasks, Tasks.spec("h1"), old);
            long recentDone = Tasks.create(tasks, Tasks.spec("h1"), Tasks.now());
            Tasks.actions(db).taskAction(recentDone, TaskAction.CANCEL, 1, Tasks.AUDIT);
            assertTrue(dispatch.finishIfIdle(recentDone));

            long cutoff = Tasks.now().minus(Duration.ofDays(30)).toEpochMilli();
            assertEquals(2, cluster.deleteFinished(cutoff, 2), "one small batch at a time");
            assertEquals(2, cluster.deleteFinished(cutoff, 2));
            assertEquals(1, cluster.deleteFinished(cutoff, 2));
            assertEquals(0, cluster.deleteFinished(cutoff, 2));

            for (long id : oldDone) {
                assertEquals(Optional.empty(), tasks.meta(id));
                assertEquals(List.of(), tasks.hosts(id, TaskStore.Output.NONE), "hosts and output go with the task");
            }
            assertTrue(tasks.meta(oldOpen).isPresent(), "an unfinished task is kept however old");
            assertEquals(HostStatus.WAITING, tasks.hosts(oldOpen, TaskStore.Output.NONE).getFirst().status());
            assertTrue(tasks.meta(recentDone).isPresent(), "a recent finished task is kept");
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void changeLog_listsDispatchesInOrder_andIsPrunedByAge(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var cluster = new ClusterStore(db);
            long head = cluster.logHead();
            long id = Tasks.create(new TaskStore(db), Tasks.spec("h1", "h2"), Tasks.now());
            Tasks.dispatch(db).dispatch(id, List.of("h1", "h2"), 1000, Optional.empty());
            var rows = cluster.logAfter(head, 10);
            assertEquals(List.of("h1", "h2"), rows.stream().map(ClusterStore.LogEntry::host).toList());
            assertTrue(rows.stream().allMatch(r -> r.taskId() == id && r.server().equals("test:1")), rows.toString());
            assertTrue(rows.get(0).seq() < rows.get(1).seq());
            assertEquals(rows.get(1).seq(), cluster.logHead());
            assertEquals(2, cluster.pruneLog(1001), "rows written at clock 1000 are older than 1001");
            assertEquals(List.of(), cluster.logAfter(head, 10));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void changeLog_ofManyHostsOfOneTask_isOneTaskWideRow_standingForEveryHostOfTheTask(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var cluster = new ClusterStore(db);
            var hosts = java.util.stream.IntStream.rangeClosed(1, ClusterStore.TASK_WIDE_OVER + 1).mapToObj(i -> "w" + i).toList();
            long head = cluster.logHead();
            long id = Tasks.create(new TaskStore(db), Tasks.spec(hosts.toArray(String[]::new)), Tasks.now());
            Tasks.dispatch(db).dispatch(id, hosts, 1000, Optional.empty());
            var rows = cluster.logAfter(head, 1000);
            assertEquals(1, rows.size(), rows.toString());
            assertTrue(rows.getFirst().taskWide());
            assertEquals(id, rows.getFirst().taskId());
            assertEquals(hosts, cluster.hostsOf(id).stream().sorted(java.util.Comparator.comparingInt(h -> Integer.parseInt(h.substring(1)))).toList());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void aServerThatStopsBeating_isDead_andItsTasksAndAgentsAreTakenOver(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var cluster = new ClusterStore(db);
            var dispatch = Tasks.dispatch(db);
            cluster.beat("a:1", 1_000);
            cluster.beat("b:1", 1_000);
            cluster.beat("b:1", 20_000);
            long id = Tasks.create(new TaskStore(db), Tasks.spec("h1"), Tasks.now());
            assertTrue(dispatch.claim(id, "", "a:1"));
            cluster.connected("h1", "a:1", "agent-1", "10.0.0.1:5000", 1_000);

            assertEquals(List.of("a:1"), cluster.deadSchedulers(10_000));
            assertEquals(List.of("b:1"), cluster.liveSchedulers(10_000));
            assertEquals(1, cluster.takeOver("a:1", "b:1"));
            assertEquals(List.of(id), dispatch.owned("b:1", 10));
            assertEquals(List.of(), cluster.deadSchedulers(10_000), "the dead server's health row is gone");
            var p = cluster.presence(List.of("h1", "h9"));
            assertFalse(p.get("h1").connected(), "its agents no longer count as connected");
            assertFalse(p.containsKey("h9"), "a host never seen has no presence");
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void presence_followsConnectAndDisconnect_andAStaleDisconnectDoesNotUndoANewerConnect(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var cluster = new ClusterStore(db);
            cluster.connected("h1", "a:1", "agent-1", "10.0.0.1:5000", 100);
            assertEquals(new ClusterStore.Presence("h1", "a:1", true, 100), cluster.presence(List.of("h1")).get("h1"));
            cluster.connected("h1", "b:1", "agent-1", "10.0.0.1:5001", 200);
            cluster.disconnected("h1", "a:1", 300);
            assertEquals(new ClusterStore.Presence("h1", "b:1", true, 200), cluster.presence(List.of("h1")).get("h1"),
                    "server a's late disconnect must not mark the agent now on b as gone");
            cluster.disconnected("h1", "b:1", 400);
            assertEquals(new ClusterStore.Presence("h1", "b:1", false, 400), cluster.presence(List.of("h1")).get("h1"));
        }
    }
}
