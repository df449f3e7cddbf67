package ibex.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class ConnectionPoolTest {
    /** Tests move this clock instead of sleeping through the idle and lifetime thresholds. */
    private final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-01-01T00:00:00Z"));
    private final InstantSource clock = () -> now.get();
    private final String url = "jdbc:h2:mem:pool" + UUID.randomUUID() + ";DB_CLOSE_DELAY=-1";
    /** When false, every connection the pool opened from now on answers isValid with false. */
    private final AtomicBoolean valid = new AtomicBoolean(true);
    private final List<ConnectionPool> pools = new ArrayList<>();

    @AfterEach
    void closePools() throws SQLException {
        pools.forEach(ConnectionPool::close);
        try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
            s.execute("SHUTDOWN");
        }
    }

    private ConnectionPool pool(int size, Duration timeout) {
        ConnectionPool p = new ConnectionPool("test-pool", size, this::openWithValidSwitch, timeout, clock);
        pools.add(p);
        return p;
    }

    /** A real H2 connection whose isValid answer the test controls. */
    private Connection openWithValidSwitch() throws SQLException {
        Connection real = DriverManager.getConnection(url);
        return (Connection) Proxy.newProxyInstance(Connection.class.getClassLoader(), new Class<?>[] {Connection.class},
                (proxy, method, args) -> {
                    if (method.getName().equals("isValid")) {
                        return valid.get() && real.isValid((Integer) args[0]);
                    }
                    try {
                        return method.invoke(real, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    @Test
    void acquire_beyondSize_waitsForTheTimeoutThenNamesPoolSizeInUseAndWaiters() {
        ConnectionPool pool = pool(2, Duration.ofMillis(300));
        var a = pool.acquire();
        var b = pool.acquire();
        long start = System.nanoTime();
        StoreException e = assertThrows(StoreException.class, pool::acquire);
        long waitedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
        assertEquals("pool test-pool: no connection free after 300 ms (size 2, in use 2, other waiters 0)", e.getMessage());
        assertTrue(waitedMs >= 290, "waited only " + waitedMs + " ms");
        assertEquals(new Database.PoolStats(2, 2, 2, 0, 2, 0), pool.stats());
        a.close();
        b.close();
        assertEquals(new Database.PoolStats(2, 2, 0, 0, 2, 0), pool.stats());
    }

    @Test
    void timeoutMessage_countsTheOtherWaiters() throws Exception {
        ConnectionPool pool = pool(1, Duration.ofMillis(1000));
        var held = pool.acquire();
        AtomicReference<String> firstMessage = new AtomicReference<>();
        Thread first = Thread.ofVirtual().start(() -> {
            try {
                pool.acquire().close();
            } catch (StoreException e) {
                firstMessage.set(e.getMessage());
            }
        });
        awaitTrue(() -> pool.stats().waiting() == 1);
        // This caller starts waiting about 400 ms after the first, so it is still waiting when the
        // first gives up and the first's message counts it; its own message counts nobody.
        Thread.sleep(400);
        StoreException second = assertThrows(StoreException.class, pool::acquire);
        first.join();
        assertEquals("pool test-pool: no connection free after 1000 ms (size 1, in use 1, other waiters 1)",
                firstMessage.get());
        assertEquals("pool test-pool: no connection free after 1000 ms (size 1, in use 1, other waiters 0)",
                second.getMessage());
        held.close();
    }

    @Test
    void waiters_wakeWhenAConnectionIsReturned() throws Exception {
        ConnectionPool pool = pool(1, Duration.ofSeconds(10));
        var held = pool.acquire();
        int n = 5;
        CountDownLatch done = new CountDownLatch(n);
        AtomicInteger ok = new AtomicInteger();
        for (int i = 0; i < n; i++) {
            Thread.ofVirtual().start(() -> {
                try (var lease = pool.acquire(); Statement s = lease.connection().createStatement();
                     ResultSet rs = s.executeQuery("SELECT 1")) {
                    rs.next();
                    ok.addAndGet(rs.getInt(1));
                } catch (SQLException e) {
                    throw new AssertionError(e);
                } finally {
                    done.countDown();
                }
            });
        }
        awaitTrue(() -> pool.stats().waiting() == n);
        assertEquals(n, done.getCount(), "nobody may get through while the only connection is held");
        held.close();
        assertTrue(done.await(5, TimeUnit.SECONDS), "waiters still stuck: " + pool.stats());
        assertEquals(n, ok.get());
        assertEquals(new Database.PoolStats(1, 1, 0, 0, 1, 0), pool.stats());
    }

    @Test
    void connectionThatFailedWithSqlState08_isDiscardedAndReplaced() {
        ConnectionPool pool = pool(1, Duration.ofSeconds(1));
        Connection first;
        try (var lease = pool.acquire()) {
            first = lease.connection();
            lease.failed(new SQLException("Communications link failure", "08S01"));
        }
        assertEquals(new Database.PoolStats(1, 0, 0, 0, 1, 1), pool.stats());
        try (var lease = pool.acquire()) {
            assertNotSame(first, lease.connection());
        }
        assertEquals(new Database.PoolStats(1, 1, 0, 0, 2, 1), pool.stats());
    }

    @Test
    void statementFailure_keepsTheConnection() {
        ConnectionPool pool = pool(1, Duration.ofSeconds(1));
        Connection first;
        try (var lease = pool.acquire()) {
            first = lease.connection();
            lease.failed(new SQLException("Duplicate entry '1' for key 'PRIMARY'", "23000", 1062));
        }
        try (var lease = pool.acquire()) {
            assertSame(first, lease.connection());
        }
        assertEquals(0, pool.stats().discarded());
    }

    @Test
    void connectionClosedBehindThePoolsBack_isDiscardedOnReturn() throws SQLException {
        ConnectionPool pool = pool(2, Duration.ofSeconds(1));
        try (var lease = pool.acquire()) {
            lease.connection().close();
        }
        assertEquals(new Database.PoolStats(2, 0, 0, 0, 1, 1), pool.stats());
    }

    @Test
    void idleConnection_isValidatedOnlyAfter30s_andReplacedWhenInvalid() {
        ConnectionPool pool = pool(1, Duration.ofSeconds(1));
        Connection first;
        try (var lease = pool.acquire()) {
            first = lease.connection();
        }
        valid.set(false);
        now.set(now.get().plusSeconds(29));
        try (var lease = pool.acquire()) {
            assertSame(first, lease.connection(), "a connection used 29 s ago is trusted without a round trip");
        }
        now.set(now.get().plusSeconds(31));
        try (var lease = pool.acquire()) {
            assertNotSame(first, lease.connection(), "idle 31 s and isValid false: must be replaced");
        }
        assertEquals(new Database.PoolStats(1, 1, 0, 0, 2, 1), pool.stats());
    }

    @Test
    void connectionOlderThanMaxLifetime_isRetired() {
        ConnectionPool pool = pool(1, Duration.ofSeconds(1));
        Connection first;
        try (var lease = pool.acquire()) {
            first = lease.connection();
        }
        now.set(now.get().plus(ConnectionPool.MAX_LIFETIME).plusSeconds(1));
        try (var lease = pool.acquire()) {
            assertNotSame(first, lease.connection());
        }
        // Also when the limit passes while the connection is borrowed: it is closed on return.
        try (var lease = pool.acquire()) {
            now.set(now.get().plus(ConnectionPool.MAX_LIFETIME).plusSeconds(1));
        }
        assertEquals(new Database.PoolStats(1, 0, 0, 0, 2, 2), pool.stats());
    }

    @Test
    void returnedConnection_withOpenTransaction_isRolledBackAndBackInAutocommit() throws SQLException {
        ConnectionPool pool = pool(1, Duration.ofSeconds(1));
        try (var lease = pool.acquire(); Statement s = lease.connection().createStatement()) {
            s.execute("CREATE TABLE t (x int)");
        }
        try (var lease = pool.acquire(); Statement s = lease.connection().createStatement()) {
            lease.connection().setAutoCommit(false);
            s.execute("INSERT INTO t VALUES (1)");
        }
        try (var lease = pool.acquire(); Statement s = lease.connection().createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM t")) {
            assertTrue(lease.connection().getAutoCommit());
            rs.next();
            assertEquals(0, rs.getInt(1), "the abandoned insert must have been rolled back");
        }
        assertEquals(0, pool.stats().discarded());
    }

    @Test
    void openFailure_namesThePool_andFreesTheSlot() {
        ConnectionPool pool = new ConnectionPool("mysql 127.0.0.1:1/ibex", 1, () -> {
            throw new SQLException("Communications link failure\n\nThe last packet sent successfully ...", "08S01");
        }, Duration.ofSeconds(1), clock);
        pools.add(pool);
        StoreException e = assertThrows(StoreException.class, pool::acquire);
        assertEquals("cannot connect to mysql 127.0.0.1:1/ibex: Communications link failure The last packet sent successfully ...",
                e.getMessage());
        assertEquals(new Database.PoolStats(1, 0, 0, 0, 0, 0), pool.stats());
        assertThrows(StoreException.class, pool::acquire, "the slot is free again, so this fails fast too");
    }

    @Test
    void close_closesIdleConnectionsNow_borrowedOnesOnReturn_andRefusesAcquire() throws SQLException {
        ConnectionPool pool = pool(2, Duration.ofSeconds(1));
        var a = pool.acquire();
        Connection idle;
        try (var b = pool.acquire()) {
            idle = b.connection();
        }
        pool.close();
        assertTrue(idle.isClosed());
        assertFalse(a.connection().isClosed());
        a.close();
        assertTrue(a.connection().isClosed());
        assertEquals("pool test-pool is closed", assertThrows(StoreException.class, pool::acquire).getMessage());
        assertEquals(new Database.PoolStats(2, 0, 0, 0, 2, 0), pool.stats());
    }

    @Test
    void lease_closedTwice_returnsOnce() {
        ConnectionPool pool = pool(2, Duration.ofSeconds(1));
        var a = pool.acquire();
        a.close();
        a.close();
        assertEquals(new Database.PoolStats(2, 1, 0, 0, 1, 0), pool.stats());
    }

    @Test
    void stress_32VirtualThreadsTimes200Queries_leaveNothingBorrowed() throws Exception {
        try (Database db = TestDatabases.h2()) {
            int threads = 32;
            int rounds = 200;
            AtomicInteger sum = new AtomicInteger();
            List<Thread> started = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                started.add(Thread.ofVirtual().start(() -> {
                    for (int i = 0; i < rounds; i++) {
                        sum.addAndGet(db.read(c -> {
                            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT 1")) {
                                rs.next();
                                return rs.getInt(1);
                            }
                        }));
                    }
                }));
            }
            for (Thread t : started) {
                t.join(60_000);
                assertFalse(t.isAlive());
            }
            assertEquals(threads * rounds, sum.get());
            Database.PoolStats stats = db.poolStats();
            assertEquals(0, stats.inUse(), stats.toString());
            assertEquals(0, stats.waiting(), stats.toString());
            assertTrue(stats.open() <= 4 && stats.created() <= 4, stats.toString());
        }
    }

    @Test
    void connectionErrors_areClassifiedBySqlStateClass08AndH2Codes() {
        assertTrue(ConnectionPool.isConnectionError(new SQLException("x", "08S01")));
        assertTrue(ConnectionPool.isConnectionError(new SQLException("x", "08003")));
        assertTrue(ConnectionPool.isConnectionError(new SQLException("Database is already closed", "90098", 90098)));
        assertTrue(ConnectionPool.isConnectionError(new SQLException("wrapped", "HY000", new SQLException("x", "08S01"))));
        assertFalse(ConnectionPool.isConnectionError(new SQLException("dup", "23000", 1062)));
        assertFalse(ConnectionPool.isConnectionError(new SQLException("deadlock", "40001", 1213)));
    }

    static void awaitTrue(BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("condition not met within 5 s");
            }
            Thread.sleep(5);
        }
    }
}
