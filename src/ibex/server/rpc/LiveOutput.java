package ibex.server.rpc;

import ibex.core.Log;
import ibex.store.ProgressStore;
import ibex.store.StoreException;
import ibex.wire.Heartbeat;
import ibex.wire.LiveText;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * One agent connection's live output of the runs still going: what it accepted of each stream
 * ({@link LiveText}: a piece sent again is not stored twice) and what waits to be written, which
 * goes to the store at most every 2 s per connection (the first time at once) and stays for the
 * next try when the store fails. Used by the connection's reading thread only.
 */
final class LiveOutput {
    private static final long WRITE_NANOS = Duration.ofSeconds(2).toNanos();
    /** Kept per stream and run; agents keep to their cap (2 MiB at most), this is the backstop. */
    private static final long MAX_BYTES = 8L * 1024 * 1024;

    /** One run's live output. */
    private static final class Run {
        final long clock;
        final LiveText stdout = new LiveText();
        final LiveText stderr = new LiveText();
        final StringBuilder stdoutPending = new StringBuilder();
        final StringBuilder stderrPending = new StringBuilder();
        boolean replace = true;   // the first write of a connection replaces what an earlier one left

        Run(long clock) {
            this.clock = clock;
        }
    }

    private final Map<Long, Run> runs = new HashMap<>();
    private long written;

    /** Takes a live report (status running): the part of each stream not accepted before. */
    void accept(Heartbeat.Report r) {
        var run = runs.get(r.taskId());
        if (run == null || run.clock != r.clock()) {
            run = new Run(r.clock());
            runs.put(r.taskId(), run);
        }
        if (run.stdout.end() < MAX_BYTES) {
            run.stdoutPending.append(run.stdout.accept(r.stdoutOffset(), r.stdout()));
        }
        if (run.stderr.end() < MAX_BYTES) {
            run.stderrPending.append(run.stderr.accept(r.stderrOffset(), r.stderr()));
        }
    }

    /** A task's run ended (its result came): its live output is not written any more. */
    void ended(long taskId) {
        runs.remove(taskId);
    }

    /** Whether a write is due at {@code now} (System.nanoTime). */
    boolean due(long now) {
        return !runs.isEmpty() && (written == 0 || now - written >= WRITE_NANOS);
    }

    /** Drops the runs of tasks no longer assigned to this connection. */
    void keepOnly(Set<Long> taskIds) {
        runs.keySet().retainAll(taskIds);
    }

    /** Writes what waits, as {@code host}'s; on a store failure it is kept for the next write. */
    void write(String host, ProgressStore store, long now) {
        var writes = new ArrayList<ProgressStore.Write>();
        var pending = new ArrayList<Run>();
        for (var e : runs.entrySet()) {
            var run = e.getValue();
            if (run.replace || !run.stdoutPending.isEmpty() || !run.stderrPending.isEmpty()) {
                writes.add(new ProgressStore.Write(e.getKey(), host, run.clock, run.replace, run.stdoutPending.toString(),
                        run.stderrPending.toString()));
                pending.add(run);
            }
        }
        if (writes.isEmpty()) {
            return;
        }
        try {
            store.write(writes);
            written = now;
            for (var run : pending) {
                run.replace = false;
                run.stdoutPending.setLength(0);
                run.stderrPending.setLength(0);
            }
        } catch (StoreException e) {
            Log.warn("rpc", "agent " + host + ": live output not stored, will try again: " + e.getMessage());
        }
    }
}
