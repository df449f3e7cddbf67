package ibex.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** GroupCommit without a database: each caller gets its own result, or its own failure. */
class GroupCommitTest {
    /** Writes a batch: item k gives k * 10; a batch holding a negative item fails as a whole. */
    private static List<Integer> write(List<Integer> batch, AtomicInteger items, int max) {
        assertTrue(batch.size() >= 1 && batch.size() <= max, "batch of " + batch.size());
        if (batch.stream().anyMatch(k -> k < 0)) {
            throw new IllegalStateException("bad item in " + batch);
        }
        items.addAndGet(batch.size());
        return batch.stream().map(k -> k * 10).toList();
    }

    @Test
    void concurrentWriters_eachGetTheirOwnResult_andABadItemFailsOnlyItsCaller() throws Exception {
        var written = new AtomicInteger();
        var group = new GroupCommit<Integer, Integer>(8, batch -> write(batch, written, 8));
        int n = 200;
        var start = new CountDownLatch(1);
        var results = new ArrayList<Future<Integer>>();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < n; i++) {
                int k = i % 50 == 7 ? -i : i;
                results.add(pool.submit(() -> {
                    start.await();
                    return group.write(k);
                }));
            }
            start.countDown();
            for (int i = 0; i < n; i++) {
                if (i % 50 == 7) {
                    int k = i;
                    var e = org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class,
                            () -> results.get(k).get(30, TimeUnit.SECONDS));
                    assertEquals("bad item in [" + -i + "]", e.getCause().getMessage(), "retried alone, failed alone");
                } else {
                    assertEquals(i * 10, results.get(i).get(30, TimeUnit.SECONDS), "result of item " + i + " (a lost item times out)");
                }
            }
        }
        assertEquals(n - 4, written.get(), "every good item written once");
    }

    @Test
    void severalWriters_writeBatchesAtOnce_neverMoreThanAllowed_andEveryCallerGetsItsResult() throws Exception {
        var running = new AtomicInteger();
        var most = new AtomicInteger();
        var written = new AtomicInteger();
        var group = new GroupCommit<Integer, Integer>(4, 3, batch -> {
            most.accumulateAndGet(running.incrementAndGet(), Math::max);
            try {
                Thread.sleep(20);   // a batch that waits, like a commit on MySQL
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            } finally {
                running.decrementAndGet();
            }
            return write(batch, written, 4);
        });
        int n = 120;
        var results = new ArrayList<Future<Integer>>();
        try (var pool = Executors.newVirtualThreadPerTaskExecutor()) {
            for (int i = 0; i < n; i++) {
                int k = i;
                results.add(pool.submit(() -> group.write(k)));
            }
            for (int i = 0; i < n; i++) {
                assertEquals(i * 10, results.get(i).get(30, TimeUnit.SECONDS), "result of item " + i);
            }
        }
        assertEquals(n, written.get(), "every item written once");
        assertEquals(3, most.get(), "three batches at once at most, and three did run together");
    }

    @Test
    void submitted_itemsAreWrittenInTheOrderQueued_andEachFutureCompletesAfterItsWrite() throws Exception {
        var order = java.util.Collections.synchronizedList(new ArrayList<Integer>());
        var group = new GroupCommit<Integer, Integer>(16, batch -> {
            order.addAll(batch);
            return batch;
        });
        var futures = new ArrayList<java.util.concurrent.CompletableFuture<Integer>>();
        for (int i = 0; i < 1000; i++) {
            futures.add(group.submit(i));
        }
        for (int i = 0; i < 1000; i++) {
            assertEquals(i, futures.get(i).get(10, TimeUnit.SECONDS));
        }
        assertEquals(java.util.stream.IntStream.range(0, 1000).boxed().toList(), order, "a connect is never written after its disconnect");
    }
}
