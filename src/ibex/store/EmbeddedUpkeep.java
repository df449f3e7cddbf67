package ibex.store;

import ibex.core.Log;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;
import org.h2.engine.SessionLocal;
import org.h2.jdbc.JdbcConnection;
import org.h2.mvstore.MVStore;

/**
 * The embedded store's file upkeep, which H2 leaves undone with WRITE_DELAY=0 (issue 6).
 *
 * <p>H2 writes each commit as a new chunk at a free place in the file and never overwrites a
 * page. A chunk is reused only once none of its pages is live, but nearly every chunk keeps one
 * or two live pages for good (the left half of a leaf that split), so under steady commits the
 * file grew by about 8 KB per task while the data grew by 0.16 KB (P6: 1.5 GB for 127,000
 * tasks). H2 moves such pages out of old chunks only in its background writer, and that writer
 * runs only with WRITE_DELAY above 0, which would answer a commit before it is on file. So this
 * thread does that part of the writer's work: it rewrites the live pages of the emptiest chunks
 * older than {@link #RETENTION} (H2's {@code MVStore.compact}), {@link #REWRITE_BYTES} at a time,
 * every {@link #BUSY_EVERY} while the chunks are mostly empty and every {@link #IDLE_EVERY} otherwise.
 *
 * <p>Every {@link #SYNC_EVERY}, when anything was written since the last time, it also commits
 * what it moved and forces the file to disk, and a dead chunk's space is reused only after that.
 * H2 by itself lets a dead chunk be overwritten a few versions after it died (its retention time
 * counts from the chunk's creation), so the chunk holding the pages that replaced it may not be on
 * disk yet, and a power cut could then leave a file that does not open. This thread keeps a version
 * pinned ({@code registerVersionUsage}, as an open transaction does) and moves the pin to a newer
 * version only once everything written before that version is on disk. A power cut therefore loses
 * about the last {@link #SYNC_EVERY} of commits and no more; a killed process loses none (each
 * commit is written before its reply). This holds with WRITE_DELAY=0, ibex's setting: with a URL's
 * WRITE_DELAY above 0, H2 writes chunks on threads of its own, a commit may be answered before it
 * is in the file, and a sync may run before a chunk being written lands. {@link #RETENTION},
 * 5 s instead of H2's 45 s, only keeps the rewriting off young chunks whose pages are still dying
 * on their own; with 45 s the file carried 45 s of dead chunks (1.5 GB under P6's load).
 *
 * <p>This reaches into H2's engine ({@code SessionLocal}, {@code MVStore}), which is not H2's public
 * API: it is written against H2 2.3.232, the version the Makefile pins. It holds a connection of
 * its own for its lifetime, outside the pool: H2 closes a database when its last connection
 * closes, and a pool that replaced all its connections would otherwise reopen the file as another
 * store. It is never interrupted: an interrupt during H2's file I/O closes the file under the
 * database.
 */
final class EmbeddedUpkeep implements AutoCloseable {
    /**
     * Live bytes moved per pass. A pass holds H2's store lock, so commits wait for it: small passes
     * keep that wait short (1 MB took 15–30 ms here and showed in P6's latency at 1 connection).
     */
    static final int REWRITE_BYTES = 256 << 10;
    /** The pause between passes while there is work: up to 5 MB/s, which kept the file from growing at 3,000 creations/s (1 MB/s did not). */
    static final Duration BUSY_EVERY = Duration.ofMillis(50);
    /** Passes run every {@link #BUSY_EVERY} while less than this share of the chunks' bytes is live. */
    static final int TARGET_FILL = 80;
    /** The pause between passes while the chunks are full enough. */
    static final Duration IDLE_EVERY = Duration.ofSeconds(1);
    /**
     * How often the file is forced to disk and the pin moved on. Short, because the pin is not free:
     * H2 keeps every map's root of every version since the pinned one, and each commit walks those
     * chains. With 1 s, at about 1,000 commits a second, that walk and the second of old pages kept
     * alive cost P6 a quarter of its creations (3,800/s against 4,700/s at 100 ms, one run).
     */
    static final Duration SYNC_EVERY = Duration.ofMillis(100);
    /** How old a chunk must be before its live pages are moved; set unless the URL names RETENTION_TIME. */
    static final Duration RETENTION = Duration.ofSeconds(5);
    /** How long close() waits for a pass or a sync in progress (a hung disk must not hang the server's stop). */
    static final Duration CLOSE_WAIT = Duration.ofSeconds(10);

    private final Connection own;
    private final MVStore store;
    private final Path file;
    private final String display;
    private final LongAdder rewrites = new LongAdder();
    private final LongAdder syncs = new LongAdder();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Thread thread;
    private volatile long lastSyncMillis;
    /** Guarded by this (see sync); null until the first sync, which start() makes. */
    private MVStore.TxCounter pinned;
    /** Only the upkeep's thread touches this. */
    private boolean failing;

    private EmbeddedUpkeep(Connection own, MVStore store, Path file, String display) {
        this.own = own;
        this.store = store;
        this.file = file;
        this.display = display;
        this.thread = Thread.ofPlatform().daemon().name("ibex-h2-upkeep").unstarted(this::run);
    }

    /**
     * Starts the upkeep of the H2 file that {@code own} is connected to; the upkeep keeps and closes
     * that connection. Empty (and {@code own} closed) when the connection does not reach H2 in this
     * process, as with AUTO_SERVER on a file another process holds.
     *
     * @param setRetention false when the URL sets RETENTION_TIME itself
     */
    static Optional<EmbeddedUpkeep> start(Connection own, Path file, String display, boolean setRetention) throws SQLException {
        if (!(own.unwrap(JdbcConnection.class).getSession() instanceof SessionLocal session)) {
            own.close();
            return Optional.empty();
        }
        MVStore store = session.getDatabase().getStore().getMvStore();
        if (setRetention) {
            // Not SET RETENTION_TIME: that is kept in the file, and would stay without this thread's syncs.
            store.setRetentionTime((int) RETENTION.toMillis());
        }
        var upkeep = new EmbeddedUpkeep(own, store, file, display);
        // Forces what was written before the upkeep (the schema, H2's own settings): later syncs skip
        // while nothing new is written, so it would otherwise reach the disk only with the next write.
        upkeep.sync();
        upkeep.thread.start();
        return Optional.of(upkeep);
    }

    /** One pass of the thread's work now, rewrite and sync, for a test that must not wait on the thread's clock. */
    void pass() {
        rewrite();
        sync();
    }

    /** Rewrites the emptiest old chunks, up to {@link #REWRITE_BYTES}; true when it moved any. */
    private boolean rewrite() {
        boolean moved = store.compact(TARGET_FILL, REWRITE_BYTES);
        if (moved) {
            rewrites.increment();
        }
        return moved;
    }

    /**
     * Writes what the passes moved, forces the file to disk, then lets H2 reuse the chunks that died
     * before the new pin: their replacements are on disk now. Nothing to do when H2 wrote no version
     * since the pin was taken, which was after everything before it was on disk. Synchronized for a
     * test's pass (see {@link #pass}) running next to the thread's.
     */
    private synchronized void sync() {
        if (pinned != null && store.getCurrentVersion() == pinned.version && !store.hasUnsavedChanges()) {
            lastSyncMillis = System.currentTimeMillis();
            return;
        }
        MVStore.TxCounter next = store.registerVersionUsage();
        try {
            store.commit();     // also waits for a commit being written: everything before `next` is in the file
            store.sync();
        } catch (RuntimeException e) {
            store.deregisterVersionUsage(next);
            throw e;
        }
        if (pinned != null) {
            store.deregisterVersionUsage(pinned);
        }
        pinned = next;
        syncs.increment();
        lastSyncMillis = System.currentTimeMillis();
    }

    private void run() {
        long nextRewrite = System.nanoTime() + IDLE_EVERY.toNanos();
        long nextSync = System.nanoTime() + SYNC_EVERY.toNanos();
        long pause = SYNC_EVERY.toNanos();
        try {
            while (!stopped(pause)) {
                long now = System.nanoTime();
                try {
                    if (now - nextRewrite >= 0) {
                        boolean moved = rewrite();
                        // compact() also says false when it found the store busy: the fill decides the pace.
                        boolean more = moved || store.getFileStore().getChunksFillRate() < TARGET_FILL;
                        // Counted from the pass's end: passes hold the store lock, so commits get the pause.
                        nextRewrite = System.nanoTime() + (more ? BUSY_EVERY : IDLE_EVERY).toNanos();
                    }
                    if (now - nextSync >= 0) {
                        sync();
                        nextSync = System.nanoTime() + SYNC_EVERY.toNanos();
                    }
                    if (failing) {
                        Log.info("store", display + ": file upkeep works again");
                    }
                    failing = false;
                } catch (RuntimeException e) {
                    if (store.isClosed()) {
                        throw e;
                    }
                    if (!failing) {
                        Log.error("store", display + ": file upkeep failed (the file may grow, and a power cut may lose more"
                                + " than " + SYNC_EVERY.toMillis() + " ms of commits); retrying: " + e);
                    }
                    failing = true;
                    long after = System.nanoTime();     // the failure itself may have taken long (a hung fsync)
                    nextRewrite = after + IDLE_EVERY.toNanos();
                    nextSync = after + IDLE_EVERY.toNanos();
                }
                long t = System.nanoTime();     // nanoTime values compare only as differences
                pause = Math.max(0, Math.min(nextRewrite - t, nextSync - t));
            }
            synchronized (this) {
                store.deregisterVersionUsage(pinned);
            }
        } catch (RuntimeException | Error e) {
            if (stop.getCount() > 0) {
                Log.error("store", display + ": file upkeep stopped: " + e, e);
            }
        }
    }

    /** Waits the pause (ns); true once close() was called. */
    private boolean stopped(long pauseNanos) {
        try {
            return stop.await(pauseNanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            return true;
        }
    }

    /** Passes that moved pages, for /metrics. */
    long rewrites() {
        return rewrites.sum();
    }

    /** Completed syncs, for tests. */
    long syncs() {
        return syncs.sum();
    }

    /** When everything written was last known to be on disk (epoch ms): forced then, or nothing new since; for /metrics. */
    long lastSyncMillis() {
        return lastSyncMillis;
    }

    /** The file's size now, for /metrics; -1 when it cannot be read. */
    long fileBytes() {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return -1;
        }
    }

    /**
     * Stops the thread, waits for its pass or sync to end (at most {@link #CLOSE_WAIT}), and closes
     * its connection, so that the database then closes under no writer of ours.
     */
    @Override
    public void close() {
        stop.countDown();
        long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
        boolean interrupted = false;
        while (thread.isAlive() && System.nanoTime() < deadline) {
            try {
                thread.join(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())));
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (thread.isAlive()) {
            Log.warn("store", display + ": file upkeep still busy after " + CLOSE_WAIT.toSeconds() + " s (a slow disk?); closing anyway");
        }
        ConnectionPool.closeQuietly(own);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
