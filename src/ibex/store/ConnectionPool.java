package ibex.store;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A fixed-size pool of JDBC connections, opened lazily, handed out as {@link Lease}s.
 *
 * <p>Invariants, all guarded by {@code lock}: {@code open == idle.size() + inUse};
 * {@code open <= maxSize}. Opening, validating and closing connections happen outside the lock
 * (they are network I/O), with the slot already counted, so a slow database never blocks threads
 * that only return a connection. A ReentrantLock rather than {@code synchronized} keeps virtual
 * threads unpinned while they wait.
 *
 * <p>A connection is discarded instead of reused when it failed with a connection-class error
 * (SQLState 08...), when it was closed behind our back, when {@code isValid} fails after it sat idle
 * longer than {@link #VALIDATE_AFTER_IDLE}, or when it is older than {@link #MAX_LIFETIME} (so
 * MySQL's {@code wait_timeout} never closes one under us). Its slot is free again at once; the next
 * acquire opens a replacement.
 */
final class ConnectionPool implements AutoCloseable {
    static final Duration DEFAULT_ACQUIRE_TIMEOUT = Duration.ofSeconds(5);
    static final Duration MAX_LIFETIME = Duration.ofMinutes(30);
    static final Duration VALIDATE_AFTER_IDLE = Duration.ofSeconds(30);
    private static final int VALID_TIMEOUT_SECONDS = 2;

    /** Opens one new physical connection. */
    @FunctionalInterface
    interface Opener {
        Connection open() throws SQLException;
    }

    private final String name;
    private final int maxSize;
    private final Opener opener;
    private final Duration acquireTimeout;
    private final InstantSource clock;

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition returned = lock.newCondition();
    private final ArrayDeque<Pooled> idle = new ArrayDeque<>(); // most recently used first
    private int inUse;
    private int waiting;
    private long created;
    private long discarded;
    private boolean closed;

    ConnectionPool(String name, int maxSize, Opener opener, Duration acquireTimeout, InstantSource clock) {
        if (maxSize < 1) {
            throw new IllegalArgumentException("pool " + name + ": size must be at least 1, got " + maxSize);
        }
        this.name = name;
        this.maxSize = maxSize;
        this.opener = opener;
        this.acquireTimeout = acquireTimeout;
        this.clock = clock;
    }

    /** A physical connection with the times the pool judges it by. */
    private static final class Pooled {
        final Connection connection;
        final Instant born;
        Instant lastReturned;

        Pooled(Connection connection, Instant born) {
            this.connection = connection;
            this.born = born;
            this.lastReturned = born;
        }
    }

    /**
     * Borrowed use of one connection; {@link #close()} gives it back (exactly once; later calls do
     * nothing). Not for sharing between threads. Callers must not close the connection itself.
     */
    final class Lease implements AutoCloseable {
        private final Pooled pooled;
        private boolean broken;
        private boolean released;

        private Lease(Pooled pooled) {
            this.pooled = pooled;
        }

        Connection connection() {
            return pooled.connection;
        }

        /** Tells the pool about a failure; a connection-level one makes it discard the connection. */
        void failed(SQLException e) {
            if (isConnectionError(e)) {
                broken = true;
            }
        }

        @Override
        public void close() {
            if (!released) {
                released = true;
                release(pooled, broken);
            }
        }
    }

    /**
     * Waits up to the acquire timeout for a connection.
     *
     * @throws StoreException when none is free in time, when opening one fails, or when closed
     */
    Lease acquire() {
        long remaining = acquireTimeout.toNanos();
        while (true) {
            Pooled candidate = null;
            boolean openNew = false;
            lock.lock();
            try {
                while (true) {
                    if (closed) {
                        throw new StoreException("pool " + name + " is closed");
                    }
                    if (!idle.isEmpty()) {
                        candidate = idle.pollFirst();
                        inUse++;
                        break;
                    }
                    if (inUse < maxSize) {
                        inUse++;           // reserve the slot before the I/O of opening
                        openNew = true;
                        break;
                    }
                    if (remaining <= 0) {
                        throw new StoreException("pool " + name + ": no connection free after "
                                + acquireTimeout.toMillis() + " ms (size " + maxSize + ", in use " + inUse
                                + ", other waiters " + waiting + ")");
                    }
                    waiting++;
                    try {
                        remaining = returned.awaitNanos(remaining);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new StoreException("pool " + name + ": interrupted while waiting for a connection");
                    } finally {
                        waiting--;
                    }
                }
            } finally {
                lock.unlock();
            }
            if (openNew) {
                return new Lease(openOne());
            }
            if (usable(candidate)) {
                return new Lease(candidate);
            }
            drop(candidate, true);   // frees the slot; loop again, which opens a replacement
        }
    }

    private Pooled openOne() {
        try {
            Connection c = opener.open();
            lock.lock();
            try {
                created++;
            } finally {
                lock.unlock();
            }
            return new Pooled(c, clock.instant());
        } catch (SQLException | RuntimeException e) {
            lock.lock();
            try {
                inUse--;
                returned.signal();
            } finally {
                lock.unlock();
            }
            String why = e instanceof SQLException ? oneLine(e.getMessage()) : e.toString();
            throw new StoreException("cannot connect to " + name + ": " + why, e);
        }
    }

    /** Checked outside the lock: isValid is a round trip to the server. */
    private boolean usable(Pooled p) {
        Instant now = clock.instant();
        if (now.isAfter(p.born.plus(MAX_LIFETIME))) {
            return false;
        }
        try {
            if (p.connection.isClosed()) {
                return false;
            }
            return !now.isAfter(p.lastReturned.plus(VALIDATE_AFTER_IDLE)) || p.connection.isValid(VALID_TIMEOUT_SECONDS);
        } catch (SQLException e) {
            return false;
        }
    }

    private void release(Pooled p, boolean broken) {
        boolean keep = !broken && reset(p.connection) && !clock.instant().isAfter(p.born.plus(MAX_LIFETIME));
        lock.lock();
        try {
            if (keep && !closed) {
                inUse--;
                p.lastReturned = clock.instant();
                idle.addFirst(p);
                returned.signal();
                return;
            }
        } finally {
            lock.unlock();
        }
        drop(p, broken || !closed);
    }

    /**
     * Leaves the connection as a fresh one would be: no open transaction, autocommit on. Only a
     * connection given back inside a transaction is rolled back (on H2 that also empties its
     * statement cache).
     */
    private static boolean reset(Connection c) {
        try {
            if (c.isClosed()) {
                return false;
            }
            if (!c.getAutoCommit()) {
                c.rollback();
                c.setAutoCommit(true);
            }
            return true;
        } catch (SQLException e) {
            return false;
        }
    }

    /** Gives up a borrowed connection's slot and closes the connection. */
    private void drop(Pooled p, boolean countAsDiscarded) {
        lock.lock();
        try {
            inUse--;
            if (countAsDiscarded) {
                discarded++;
            }
            returned.signal();
        } finally {
            lock.unlock();
        }
        closeQuietly(p.connection);
    }

    Database.PoolStats stats() {
        lock.lock();
        try {
            return new Database.PoolStats(maxSize, idle.size() + inUse, inUse, waiting, created, discarded);
        } finally {
            lock.unlock();
        }
    }

    String name() {
        return name;
    }

    /**
     * Closes the idle connections now and each borrowed one when it comes back; waiters and later
     * acquires fail.
     */
    @Override
    public void close() {
        List<Pooled> toClose;
        lock.lock();
        try {
            closed = true;
            toClose = new ArrayList<>(idle);
            idle.clear();
            returned.signalAll();
        } finally {
            lock.unlock();
        }
        for (Pooled p : toClose) {
            closeQuietly(p.connection);
        }
    }

    static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException ignored) {
            // Already unusable; there is nothing more to release.
        }
    }

    /**
     * A failure of the connection rather than of the statement: SQLState class 08, the JDBC
     * connection exception types, or H2's "database closed / connection broken" codes.
     */
    static boolean isConnectionError(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLRecoverableException || t instanceof SQLNonTransientConnectionException) {
                return true;
            }
            if (t instanceof SQLException s && s.getSQLState() != null) {
                String state = s.getSQLState();
                if (state.startsWith("08") || state.equals("90067") || state.equals("90098")
                        || state.equals("90121")) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Connector/J spreads its messages over several lines; log lines and API errors want one. */
    static String oneLine(String message) {
        return message == null ? "(no message)" : message.strip().replaceAll("\\s*\\R\\s*", " ");
    }
}
