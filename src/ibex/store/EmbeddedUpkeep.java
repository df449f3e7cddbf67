package ibex.store;

import ibex.core.Log;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
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
 * older than the retention time (H2's {@code MVStore.compact}), {@link #REWRITE_BYTES} at a time,
 * and the chunks they leave become free space for new commits. It looks once a second and, while
 * it finds work, every {@link #BUSY_EVERY}.
 *
 * <p>It also forces the file to disk every {@link #SYNC_EVERY}. H2 lets a dead chunk be
 * overwritten after its retention time on the assumption that the operating system has written
 * everything older by then; Linux may hold writes for 30 s, so H2's default is 45 s, and the file
 * carried 45 s of dead chunks (hundreds of MB under load). Syncing each second makes a 5 s
 * retention safe ({@link Database#h2Url}) and bounds what a power cut loses to about a second of
 * commits; a killed process loses none, as before.
 *
 * <p>Never interrupted: an interrupt during H2's file I/O would close the file under the database.
 */
final class EmbeddedUpkeep implements AutoCloseable {
    /**
     * Live bytes moved per pass. A pass holds H2's store lock, so commits wait for it: small passes
     * keep that wait short (1 MB took 15–30 ms here and showed in P6's latency at 1 connection).
     */
    static final int REWRITE_BYTES = 256 << 10;
    /** The pause between passes while there is work: up to 5 MB/s, which kept the file from growing at 3,000 creations/s (1 MB/s did not). */
    static final Duration BUSY_EVERY = Duration.ofMillis(50);
    /** Rewrite only while less than this share of the chunks' bytes is live (H2's own writer uses 81 % when busy). */
    static final int TARGET_FILL = 80;
    static final Duration SYNC_EVERY = Duration.ofSeconds(1);

    private final MVStore store;
    private final Path file;
    private final String display;
    private final LongAdder rewrites = new LongAdder();
    private final CountDownLatch stop = new CountDownLatch(1);
    private final Thread thread;
    private boolean failing;

    private EmbeddedUpkeep(MVStore store, Path file, String display) {
        this.store = store;
        this.file = file;
        this.display = display;
        this.thread = Thread.ofPlatform().daemon().name("ibex-h2-upkeep").unstarted(this::run);
    }

    /** Starts the upkeep of the H2 file that {@code c} is connected to (any connection: they share one store). */
    static EmbeddedUpkeep start(Connection c, Path file, String display) throws SQLException {
        var session = (SessionLocal) c.unwrap(JdbcConnection.class).getSession();
        var upkeep = new EmbeddedUpkeep(session.getDatabase().getStore().getMvStore(), file, display);
        upkeep.thread.start();
        return upkeep;
    }

    /** One pass: rewrite the emptiest old chunks, up to {@link #REWRITE_BYTES}; true when it moved any. */
    boolean rewrite() {
        boolean moved = store.compact(TARGET_FILL, REWRITE_BYTES);
        if (moved) {
            rewrites.increment();
        }
        return moved;
    }

    /** Passes that moved pages, for /metrics. */
    long rewrites() {
        return rewrites.sum();
    }

    /** The file's size now, for /metrics; 0 when it cannot be read. */
    long fileBytes() {
        try {
            return Files.size(file);
        } catch (IOException e) {
            return 0;
        }
    }

    private void run() {
        long nextSync = System.nanoTime() + SYNC_EVERY.toNanos();
        Duration pause = SYNC_EVERY;
        while (!stopped(pause)) {
            pause = SYNC_EVERY;
            try {
                if (rewrite()) {
                    pause = BUSY_EVERY;
                }
                if (System.nanoTime() - nextSync >= 0) {
                    store.sync();
                    nextSync = System.nanoTime() + SYNC_EVERY.toNanos();
                }
                failing = false;
            } catch (RuntimeException e) {
                if (store.isClosed()) {
                    return;
                }
                // Commits report their own errors; this says once why the file may grow.
                if (!failing) {
                    Log.warn("store", display + ": file upkeep failed, retrying: " + e);
                }
                failing = true;
            }
        }
    }

    /** Waits the pause; true once close() was called. */
    private boolean stopped(Duration pause) {
        try {
            return stop.await(pause.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            return true;
        }
    }

    /** Stops the thread and waits for its pass to end, so that the database can close under no writer. */
    @Override
    public void close() {
        stop.countDown();
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
