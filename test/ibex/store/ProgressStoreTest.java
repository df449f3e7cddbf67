package ibex.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ibex.core.HostStatus;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ProgressStoreTest {
    private static final String BOTH = "ibex.store.TestDatabases#databases";
    private static final String UNICODE = "é€😀 — 日本語\n";

    private record Run(long id, TaskStore tasks, DispatchStore dispatch, ProgressStore progress) {
        ibex.core.TaskHost row(String host) {
            return tasks.host(id, host, TaskStore.Output.BOTH).orElseThrow();
        }
    }

    /** A task on h1 and h2, both running with clock 500. */
    private static Run running(Database db) {
        var tasks = new TaskStore(db);
        long id = Tasks.create(tasks, Tasks.spec("h1", "h2"), Tasks.now());
        var dispatch = Tasks.dispatch(db);
        dispatch.dispatch(id, List.of("h1", "h2"), 500, Optional.empty());
        return new Run(id, tasks, dispatch, new ProgressStore(db));
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void replaceThenAppend_buildsTheLiveOutput(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var r = running(db);
            assertEquals(1, r.progress.write(List.of(new ProgressStore.Write(r.id, "h1", 500, true, "a\n", "x"))));
            assertEquals(1, r.progress.write(List.of(new ProgressStore.Write(r.id, "h1", 500, false, UNICODE, ""))));
            var h1 = r.row("h1");
            assertEquals(HostStatus.RUNNING, h1.status());
            assertEquals("a\n" + UNICODE, h1.stdout());
            assertEquals("x", h1.stderr());
            assertEquals("", r.row("h2").stdout(), "the other host is untouched");
            r.progress.write(List.of(new ProgressStore.Write(r.id, "h1", 500, true, "again", "")));
            assertEquals("again", r.row("h1").stdout(), "a new connection's first write replaces");
            assertEquals("", r.row("h1").stderr());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void write_toAnotherClockOrAFinishedRun_changesNothing(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var r = running(db);
            assertEquals(0, r.progress.write(List.of(new ProgressStore.Write(r.id, "h1", 499, true, "stale", ""))));
            r.dispatch.record(List.of(new DispatchStore.Result(r.id, "h1", 500, HostStatus.SUCCESS, "result", "")));
            assertEquals(0, r.progress.write(List.of(
                    new ProgressStore.Write(r.id, "h1", 500, false, " late", ""),
                    new ProgressStore.Write(r.id, "h1", 500, true, "late", ""))));
            assertEquals("result", r.row("h1").stdout(), "live output never overwrites a result");
            assertEquals(0, r.progress.write(List.of(new ProgressStore.Write(r.id, "ghost", 500, true, "x", ""))));
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void manyWrites_inOneCall_andTheFullCapFits(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            var r = running(db);
            String mib = "ü".repeat(512 * 1024);   // 1 MiB of UTF-8
            assertEquals(2, r.progress.write(List.of(
                    new ProgressStore.Write(r.id, "h1", 500, true, mib, ""),
                    new ProgressStore.Write(r.id, "h2", 500, true, "", mib))));
            assertEquals(2, r.progress.write(List.of(
                    new ProgressStore.Write(r.id, "h1", 500, false, mib, ""),
                    new ProgressStore.Write(r.id, "h2", 500, false, "", "end"))));
            assertEquals(mib + mib, r.row("h1").stdout());
            assertEquals(mib + "end", r.row("h2").stderr());
        }
    }
}
