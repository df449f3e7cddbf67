package ibex.server.rpc;

import ibex.core.Log;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Group commit for writes that arrive from many agent connections at once: callers hand in items,
 * one writer thread takes everything queued so far (up to {@code max}) and writes it with one call,
 * that is one transaction. 10,000 agents reporting within a second, or reconnecting after a server
 * restart, cost tens of commits instead of ten thousand; a lone caller waits no longer than its own
 * write. The write returns the items it changed; each caller learns which of its own they were.
 *
 * @param <T> an item; equal items from two callers are never queued at once (they name their host)
 */
final class Batcher<T> implements AutoCloseable {
    private record Pending<T>(List<T> items, CompletableFuture<List<T>> done) {
    }

    private final String name;
    private final int max;
    private final Function<List<T>, List<T>> write;
    private final LinkedBlockingQueue<Pending<T>> queue = new LinkedBlockingQueue<>();
    private final Thread thread;
    private volatile boolean running = true;

    /** @param write writes the items in one transaction and returns those it changed; throws on failure */
    Batcher(String name, int max, Function<List<T>, List<T>> write) {
        this.name = name;
        this.max = max;
        this.write = write;
        this.thread = Thread.ofPlatform().name("ibex-batch-" + name).daemon().start(this::loop);
    }

    /** Writes the items with whatever else is queued; returns those of them the write changed. */
    List<T> write(List<T> items) {
        try {
            return submit(items).join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            throw e;
        }
    }

    /** Queues the items without waiting (best-effort writes); a failure is logged by the writer. */
    CompletableFuture<List<T>> submit(List<T> items) {
        var p = new Pending<>(List.copyOf(items), new CompletableFuture<>());
        if (!running) {
            p.done().completeExceptionally(new IllegalStateException(name + " writer is closed"));
            return p.done();
        }
        queue.add(p);
        return p.done();
    }

    private void loop() {
        var batch = new ArrayList<Pending<T>>();
        while (running || !queue.isEmpty()) {
            try {
                var first = queue.poll(200, TimeUnit.MILLISECONDS);
                if (first == null) {
                    continue;
                }
                batch.add(first);
                int n = first.items().size();
                Pending<T> next;
                while (n < max && (next = queue.poll()) != null) {
                    batch.add(next);
                    n += next.items().size();
                }
                flush(batch);
            } catch (InterruptedException e) {
                running = false;
            } catch (RuntimeException e) {
                Log.error("rpc", name + " writer", e);
            } finally {
                batch.clear();
            }
        }
        Pending<T> left;
        while ((left = queue.poll()) != null) {
            left.done().completeExceptionally(new IllegalStateException(name + " writer is closed"));
        }
    }

    private void flush(List<Pending<T>> batch) {
        var all = new ArrayList<T>();
        batch.forEach(p -> all.addAll(p.items()));
        List<T> changed;
        try {
            changed = write.apply(all);
        } catch (RuntimeException e) {
            if (batch.size() == 1) {
                batch.getFirst().done().completeExceptionally(e);
                return;
            }
            // One caller's bad item must not fail everyone's: each caller's items alone.
            for (var p : batch) {
                flush(List.of(p));
            }
            return;
        }
        var set = new HashSet<>(changed);
        for (var p : batch) {
            var mine = new ArrayList<T>();
            for (var item : p.items()) {
                if (set.contains(item)) {
                    mine.add(item);
                }
            }
            p.done().complete(mine);
        }
    }

    @Override
    public void close() {
        running = false;
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
