package ibex.store;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * Group commit: writes that arrive together from many threads share one transaction. A caller
 * queues its item and waits; a caller that finds no writer running starts one (a virtual thread),
 * which takes everything queued (up to {@code max} items), writes it with one call, hands each
 * caller its own result, and goes on while more is queued. A lone write costs a thread start more
 * than writing directly; 16 concurrent task creations cost one commit instead of 16 (on H2 a
 * commit rewrites the changed pages; on MySQL it is a round trip and an fsync). No thread runs
 * while nothing is queued, and no caller waits for more than the batch that holds its item.
 *
 * <p>A failed batch of several callers is written again per caller, so one bad item fails only
 * its own caller. The write must be all-or-nothing (one {@link Database#inTransaction}).
 *
 * <p>Where order does not matter, up to {@code writers} batches may be written at once: on MySQL
 * a batch spends most of its time waiting (round trips, the log flush), and InnoDB flushes
 * concurrent commits together, so a second writer fills that wait instead of queueing behind it.
 * One writer keeps items in the order they were queued.
 *
 * @param <T> an item to write
 * @param <R> what one item's write returns (an id, whether it changed a row)
 */
public final class GroupCommit<T, R> {
    private record Pending<T, R>(T item, CompletableFuture<R> done) {
    }

    private final int max;
    private final int writers;
    private final Function<List<T>, List<R>> write;
    private final ConcurrentLinkedQueue<Pending<T, R>> queue = new ConcurrentLinkedQueue<>();
    private final AtomicInteger writing = new AtomicInteger();

    /** One writer: items are written in the order queued. */
    public GroupCommit(int max, Function<List<T>, List<R>> write) {
        this(max, 1, write);
    }

    /**
     * @param max items per batch at most
     * @param writers batches written at once at most; above 1, items may commit out of order
     * @param write writes the items in one transaction; returns one result per item, in order
     */
    public GroupCommit(int max, int writers, Function<List<T>, List<R>> write) {
        if (max < 1 || writers < 1) {
            throw new IllegalArgumentException("max and writers must be at least 1, got " + max + " and " + writers);
        }
        this.max = max;
        this.writers = writers;
        this.write = write;
    }

    /** Writes the item with whatever else is queued and returns its result; rethrows a failure. */
    public R write(T item) {
        try {
            return submit(item).join();
        } catch (CompletionException e) {
            throw e.getCause() instanceof RuntimeException r ? r : e;
        }
    }

    /**
     * Queues the item and returns at once; the future completes after the commit that holds it.
     * With one writer, items are written in the order they were queued (a host's connect before
     * its disconnect).
     */
    public CompletableFuture<R> submit(T item) {
        var mine = new Pending<T, R>(item, new CompletableFuture<>());
        queue.add(mine);
        if (claimWriter()) {
            // The writing is done by a thread of its own, not by this caller: a caller that wrote
            // until the queue was empty waited for everybody else's commits while requests kept
            // coming, and its reply came hundreds of milliseconds late (P6's p99 on MariaDB).
            Thread.ofVirtual().name("ibex-group-commit").start(this::writeAll);
        }
        return mine.done();
    }

    /** Counts in one more writer, unless {@code writers} are running already. */
    private boolean claimWriter() {
        for (int n = writing.get(); n < writers; n = writing.get()) {
            if (writing.compareAndSet(n, n + 1)) {
                return true;
            }
        }
        return false;
    }

    /**
     * A writer's turn. It looks at the queue again after it steps down: an item queued while it
     * was finishing is either seen there or finds too few writers and starts one.
     */
    private void writeAll() {
        do {
            try {
                drain();
            } finally {
                writing.decrementAndGet();
            }
        } while (!queue.isEmpty() && claimWriter());
    }

    /**
     * Writes batches until the queue is empty; called by the one writer. Before taking a batch it
     * yields once: callers that are already running (on virtual threads, a request being parsed)
     * queue their items first and share this commit instead of each paying one of their own. When
     * nothing else is runnable the yield returns at once. Without it, a server short of CPU wrote
     * groups of 1.5 creations on average at 16 connections (P6, H2), and the commits took the CPU
     * the other requests needed to reach the queue; with it, about 4.
     */
    private void drain() {
        var batch = new ArrayList<Pending<T, R>>();
        Pending<T, R> p;
        while (!queue.isEmpty()) {
            Thread.yield();
            while (batch.size() < max && (p = queue.poll()) != null) {
                batch.add(p);
            }
            flush(batch);
            batch.clear();
        }
    }

    private void flush(List<Pending<T, R>> batch) {
        var items = new ArrayList<T>(batch.size());
        batch.forEach(b -> items.add(b.item()));
        List<R> results;
        try {
            results = write.apply(items);
        } catch (RuntimeException | Error e) {
            if (batch.size() == 1) {
                batch.getFirst().done().completeExceptionally(e);
            } else {
                for (var b : batch) {
                    flush(List.of(b));
                }
            }
            return;
        }
        for (int i = 0; i < batch.size(); i++) {
            batch.get(i).done().complete(results.get(i));
        }
    }
}
