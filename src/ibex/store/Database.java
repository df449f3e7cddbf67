package ibex.store;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Properties;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.LongSupplier;

/**
 * One ibex database, MySQL/MariaDB or an embedded H2 file, behind one pool and one JDBC code path.
 *
 * <p>{@link #open} refuses a database whose schema is not exactly version {@link #SCHEMA_VERSION}
 * with all ibex tables; it creates the schema only in an empty H2 file, never in MySQL, where
 * that is the operator's step ({@code mysql < sql/ibex.sql}).
 *
 * <p>Work must not call {@code read}/{@code inTransaction} from inside another one: it would hold
 * two connections at once and a full pool would wait on itself.
 */
public final class Database implements AutoCloseable {
    public static final int SCHEMA_VERSION = Schema.VERSION;
    /** Deadlocks and lock-wait timeouts are retried this many times after the first attempt. */
    static final int MAX_RETRIES = 3;
    private static final String MYSQL_HINT = "run  mysql < sql/ibex.sql";

    /** Work on a borrowed connection; it must not close the connection. */
    @FunctionalInterface
    public interface SqlWork<T> {
        T apply(Connection c) throws SQLException;
    }

    /** Pool numbers for /metrics: configured size, connections open, borrowed, threads waiting. */
    public record PoolStats(int max, int open, int inUse, int waiting, long created, long discarded) {
    }

    private final String display;
    private final boolean embedded;
    private final ConnectionPool pool;
    private final ConnectionPool.Opener opener;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** Work that failed with a database error (after retries) or got no connection; for /metrics. */
    private final LongAdder errors = new LongAdder();
    private final List<Runnable> afterClose = new CopyOnWriteArrayList<>();
    /** The embedded file's upkeep; null on MySQL, which reuses its own free space, and without a file. */
    private volatile EmbeddedUpkeep upkeep;

    private Database(String display, boolean embedded, ConnectionPool pool, ConnectionPool.Opener opener) {
        this.display = display;
        this.embedded = embedded;
        this.pool = pool;
        this.opener = opener;
    }

    /**
     * Connects, checks the schema (creating it in an empty H2 file) and returns the open database.
     *
     * @throws StoreException naming the database when it is unreachable or its schema is not ours
     */
    public static Database open(DbSettings cfg) {
        String type = type(cfg);
        String url = url(cfg);
        boolean embedded = switch (type) {
            case "h2" -> true;
            case "mysql" -> false;
            default -> throw new StoreException("database type must be h2 or mysql, got '" + cfg.type() + "'");
        };
        String prefix = embedded ? "jdbc:h2:" : "jdbc:mysql:";
        if (!url.startsWith(prefix)) {
            // Only the scheme is quoted back: the rest of a URL may hold a password.
            throw new StoreException("database type " + type + " needs a " + prefix + " URL, got one starting '"
                    + url.substring(0, Math.max(0, url.indexOf(':', 5) + 1)) + "'");
        }
        if (cfg.maxOpenConns() < 1) {
            throw new StoreException("database pool size (maxOpenConns) must be at least 1, got " + cfg.maxOpenConns());
        }
        String display = cfg.display() == null || cfg.display().isBlank() ? describe(type, url) : cfg.display();
        Properties props = credentials(cfg, embedded);
        if (embedded) {
            url = h2Url(url);
            makeParentDir(display, url);
        } else if (!url.contains("connectTimeout")) {
            // Connector/J waits forever for an unanswering host by default; a server must fail at start.
            props.setProperty("connectTimeout", "5000");
        }
        if (!embedded) {
            // Round trips are most of a MySQL transaction's cost here (issue 6, P6): keep autocommit
            // and transaction state locally so commit, rollback and setAutoCommit send nothing
            // when nothing changed, cache the parse of our few statements, and send a JDBC batch
            // of INSERTs as multi-row INSERTs (one round trip; generated keys still come back one
            // per row, in order). A URL may override.
            for (String[] option : new String[][] {{"useLocalSessionState", "true"}, {"useLocalTransactionState", "true"},
                    {"cachePrepStmts", "true"}, {"prepStmtCacheSize", "64"}, {"prepStmtCacheSqlLimit", "2048"},
                    {"rewriteBatchedStatements", "true"}}) {
                if (!url.contains(option[0])) {
                    props.setProperty(option[0], option[1]);
                }
            }
        }
        String finalUrl = url;
        ConnectionPool.Opener opener = () -> DriverManager.getConnection(finalUrl, props);
        ConnectionPool pool = new ConnectionPool(display, cfg.maxOpenConns(), opener,
                ConnectionPool.DEFAULT_ACQUIRE_TIMEOUT, InstantSource.system());
        Database db = new Database(display, embedded, pool, opener);
        try {
            db.prepareSchema();
            Path file = embedded ? h2DataFile(url) : null;
            if (file != null) {     // a file in this process, not mem: or a tcp: server
                db.upkeep = startUpkeep(opener, file, !hasOption(url, "RETENTION_TIME"), display);
            }
        } catch (RuntimeException e) {
            db.close();
            throw e;
        }
        return db;
    }

    private static EmbeddedUpkeep startUpkeep(ConnectionPool.Opener opener, Path file, boolean setRetention, String display) {
        Connection own = null;
        try {
            own = opener.open();
            return EmbeddedUpkeep.start(own, file, display, setRetention).orElse(null);
        } catch (SQLException | RuntimeException e) {
            if (own != null) {
                ConnectionPool.closeQuietly(own);
            }
            throw new StoreException(display + ": cannot start the file's upkeep: " + e, e);
        }
    }

    private static String type(DbSettings cfg) {
        return cfg.type() == null ? "" : cfg.type().strip().toLowerCase(Locale.ROOT);
    }

    private static String url(DbSettings cfg) {
        return cfg.jdbcUrl() == null ? "" : cfg.jdbcUrl().strip();
    }

    private static Properties credentials(DbSettings cfg, boolean embedded) {
        Properties props = new Properties();
        String user = cfg.user() == null ? "" : cfg.user();
        props.setProperty("user", embedded && user.isBlank() ? "sa" : user);
        props.setProperty("password", cfg.password() == null ? "" : cfg.password());
        return props;
    }

    /** An embedded store file's size before and after {@link #compact}, in bytes. */
    public record Compacted(Path file, long before, long after) {
    }

    /**
     * Rewrites an embedded store file to hold only its live data (H2's SHUTDOWN COMPACT). While the
     * server runs, {@link EmbeddedUpkeep} keeps the file's space reusable, but the file shrinks only
     * when its end comes free (issue 6: 1.4 GB after 247,000 task creations in a minute before the
     * upkeep, 40 MB after this, in 4 s). The server must be stopped: it holds the file locked.
     */
    public static Compacted compact(DbSettings cfg) {
        String type = type(cfg);
        String url = url(cfg);
        if (!type.equals("h2") || !url.startsWith("jdbc:h2:")) {
            throw new StoreException("compacting is for the embedded store (DBType h2); MySQL and MariaDB reuse freed space"
                    + " themselves (OPTIMIZE TABLE gives it back to the file system)");
        }
        Path file = h2DataFile(url);
        if (file == null) {
            throw new StoreException("compacting needs an H2 file, not " + describe(type, url));
        }
        if (!Files.isRegularFile(file)) {
            throw new StoreException("no embedded store at " + file);
        }
        long before = size(file);
        // IFEXISTS: a mistyped path must not leave a new empty database behind.
        try (Connection c = DriverManager.getConnection(h2Url(url) + ";IFEXISTS=TRUE", credentials(cfg, true));
             Statement s = c.createStatement()) {
            s.execute("SHUTDOWN COMPACT");
        } catch (SQLException e) {
            throw new StoreException("cannot compact " + file + ": " + ConnectionPool.oneLine(e.getMessage())
                    + " (a running server holds the file: stop the server first)", e);
        }
        return new Compacted(file, before, size(file));
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new StoreException("cannot read the size of " + file + ": " + e, e);
        }
    }

    /**
     * MODE=MySQL and lower-case names make the shared DDL and queries behave as on MySQL;
     * LOCK_TIMEOUT lets a blocked writer wait like InnoDB does instead of failing after H2's 1 s;
     * WRITE_DELAY=0 writes each commit to the file at once (with H2's default 500 ms, a process
     * killed right after a commit lost the commit, even the tables: measured with Runtime.halt);
     * DB_CLOSE_ON_EXIT=FALSE because the server closes the store itself, last in its stop order,
     * and H2's own shutdown hook would otherwise close it under requests still draining;
     * QUERY_CACHE_SIZE=64 keeps the parse of every statement ibex uses (H2's default of 8 per
     * connection re-parsed most of them on each call: issue 6, P6); CACHE_SIZE=1024 (KB) because
     * H2 puts every page it writes in its page cache, so under steady commits its default 16 MB of
     * cache was the young collections' survivors and the old generation's growth: at 16 MB, P6 made
     * 4,600/s with young pauses of 11 ms and a heap growing 5 MB/s; at 1 MB, 6,400/s, 4 ms pauses and
     * a flat heap, and P3 assigned its 10,000 hosts in 1.2 s instead of 1.7 s (one run each). Reads
     * of pages that fell out of it come from the OS's file cache: GET of a 10,000-host task 4 %
     * slower, its stdout 9 %.
     */
    static String h2Url(String url) {
        StringBuilder b = new StringBuilder(url);
        for (String[] option : new String[][] {
                {"MODE", "MySQL"}, {"DATABASE_TO_LOWER", "TRUE"}, {"LOCK_TIMEOUT", "10000"}, {"WRITE_DELAY", "0"},
                {"DB_CLOSE_ON_EXIT", "FALSE"}, {"QUERY_CACHE_SIZE", "64"}, {"CACHE_SIZE", "1024"}}) {
            if (!hasOption(url, option[0])) {
                b.append(';').append(option[0]).append('=').append(option[1]);
            }
        }
        return b.toString();
    }

    /** Whether an H2 URL sets the option itself (a URL may override any default of ours). */
    private static boolean hasOption(String url, String option) {
        return url.toUpperCase(Locale.ROOT).contains(";" + option + "=");
    }

    /** The file H2 keeps its data in for a URL ({@code <path>.mv.db}), or null for an in-memory or server URL. */
    private static Path h2DataFile(String url) {
        Path base = h2File(url);
        return base == null ? null : base.resolveSibling(base.getFileName() + ".mv.db");
    }

    /** The file path of an H2 URL, or null for an in-memory or server URL. */
    static Path h2File(String url) {
        String rest = url.substring("jdbc:h2:".length());
        int semi = rest.indexOf(';');
        if (semi >= 0) {
            rest = rest.substring(0, semi);
        }
        if (rest.startsWith("mem:") || rest.startsWith("tcp:") || rest.startsWith("ssl:")) {
            return null;
        }
        if (rest.startsWith("file:")) {
            rest = rest.substring("file:".length());
        }
        if (rest.startsWith("~")) {
            rest = System.getProperty("user.home") + rest.substring(1);
        }
        return Path.of(rest).toAbsolutePath();
    }

    /** The data directory holds the whole task history, scripts included: owner only (0700). */
    private static void makeParentDir(String display, String url) {
        Path file = h2File(url);
        if (file == null || file.getParent() == null || Files.isDirectory(file.getParent())) {
            return;
        }
        try {
            Files.createDirectories(file.getParent(),
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (IOException | UnsupportedOperationException e) {
            throw new StoreException("cannot create the directory " + file.getParent() + " for " + display + ": " + e, e);
        }
    }

    /** "mysql 127.0.0.1:3306/ibex" or "h2 /var/lib/ibex/ibex", without user, password or options. */
    static String describe(String type, String url) {
        if (type.equals("h2")) {
            Path file = h2File(url);
            return "h2 " + (file == null ? url.substring("jdbc:h2:".length()).split(";", 2)[0] : file);
        }
        String rest = url.replaceFirst("^jdbc:mysql:(loadbalance:|replication:)?//", "");
        rest = rest.replaceFirst("^[^/@]*@", "");   // user:password@
        int q = rest.indexOf('?');
        return "mysql " + (q >= 0 ? rest.substring(0, q) : rest);
    }

    private void prepareSchema() {
        read(c -> {
            TreeSet<String> tables = tables(c);
            if (embedded && tables.isEmpty()) {
                createSchema(c);
                tables = tables(c);
            }
            if (!tables.contains("ibex_schema")) {
                List<String> others = new ArrayList<>(tables);
                String hint = embedded ? "use a new H2 file for ibex" : MYSQL_HINT;
                throw new StoreException("database " + display + " has no ibex schema (table ibex_schema missing"
                        + (others.isEmpty() ? "" : ", found " + String.join(", ", others)) + "): " + hint);
            }
            List<Integer> versions = new ArrayList<>();
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT version FROM ibex_schema ORDER BY version")) {
                while (rs.next()) {
                    versions.add(rs.getInt(1));
                }
            }
            if (!versions.equals(List.of(SCHEMA_VERSION))) {
                String found = versions.isEmpty() ? "an empty ibex_schema table"
                        : versions.size() == 1 ? "schema version " + versions.getFirst() : "schema versions " + versions;
                throw new StoreException("database " + display + " has " + found + ", this ibex needs " + SCHEMA_VERSION);
            }
            List<String> missing = missing(tables);
            if (!missing.isEmpty() && embedded) {
                // Only a first start that died half-way leaves this; every statement is idempotent.
                createSchema(c);
                missing = missing(tables(c));
            }
            if (!missing.isEmpty()) {
                throw new StoreException("database " + display + " has schema version " + SCHEMA_VERSION
                        + " but lacks table" + (missing.size() > 1 ? "s " : " ") + String.join(", ", missing)
                        + (embedded ? "" : ": " + MYSQL_HINT));
            }
            return null;
        });
    }

    private static List<String> missing(TreeSet<String> tables) {
        return Schema.TABLES.stream().filter(t -> !tables.contains(t)).toList();
    }

    /** Table names of the connection's own database (MySQL catalog, H2 schema), lower-cased. */
    private static TreeSet<String> tables(Connection c) throws SQLException {
        TreeSet<String> names = new TreeSet<>();
        try (ResultSet rs = c.getMetaData().getTables(c.getCatalog(), c.getSchema(), "%", new String[] {"TABLE"})) {
            while (rs.next()) {
                names.add(rs.getString("TABLE_NAME").toLowerCase(Locale.ROOT));
            }
        }
        return names;
    }

    private void createSchema(Connection c) throws SQLException {
        List<String> statements = Schema.statements();
        try (Statement s = c.createStatement()) {
            for (int i = 0; i < statements.size(); i++) {
                try {
                    s.execute(statements.get(i));
                } catch (SQLException e) {
                    throw new StoreException("creating the schema in " + display + ": statement " + (i + 1) + " ("
                            + statements.get(i).lines().findFirst().orElse("") + ") failed: "
                            + ConnectionPool.oneLine(e.getMessage()), e);
                }
            }
        }
    }

    /** The embedded store file's upkeep, for /metrics; empty on MySQL or without a file in this process. */
    public Optional<FileUpkeep> fileUpkeep() {
        EmbeddedUpkeep u = upkeep;
        return u == null ? Optional.empty() : Optional.of(new FileUpkeep(u::fileBytes, u::rewrites, u::lastSyncMillis, u::syncs));
    }

    /**
     * Readings of the embedded file: its size in bytes (-1 when unreadable), the upkeep's passes
     * that moved pages, when everything written was last known to be on disk (epoch ms: forced
     * then, or nothing new since), and how often it forced the file.
     */
    public record FileUpkeep(LongSupplier bytes, LongSupplier rewrites, LongSupplier lastSyncMillis, LongSupplier syncs) {
    }

    /**
     * One pass of the embedded file's upkeep now (rewrite old chunks, sync, let freed space be
     * reused), as its thread rewrites every 50 ms to 1 s and syncs every 100 ms; nothing on MySQL.
     * Lets a test drive the upkeep without waiting on its clock.
     */
    void upkeepPass() {
        EmbeddedUpkeep u = upkeep;
        if (u != null) {
            u.pass();
        }
    }

    /** Runs work in autocommit mode: each statement commits on its own. */
    public <T> T read(SqlWork<T> work) {
        try (ConnectionPool.Lease lease = acquire()) {
            try {
                return work.apply(lease.connection());
            } catch (SQLException e) {
                lease.failed(e);
                throw failure(e, 1);
            }
        }
    }

    /**
     * Runs work in one transaction: commit when it returns, roll back when it throws. A deadlock or
     * lock-wait timeout runs the whole work again (up to {@link #MAX_RETRIES} times), so work must
     * not have effects outside the transaction. SQLExceptions come out as StoreException; other
     * exceptions (a domain refusal, say) come out unchanged after the rollback.
     */
    public <T> T inTransaction(SqlWork<T> work) {
        for (int attempt = 1; ; attempt++) {
            try (ConnectionPool.Lease lease = acquire()) {
                Connection c = lease.connection();
                try {
                    c.setAutoCommit(false);
                    T result = work.apply(c);
                    c.commit();
                    // Back to autocommit here, so the pool finds nothing to roll back: on H2 a
                    // rollback, even of nothing, empties the connection's statement cache, and
                    // every statement after each transaction was parsed again (issue 6, P6).
                    c.setAutoCommit(true);
                    return result;
                } catch (SQLException e) {
                    rollback(c, e);
                    lease.failed(e);
                    if (attempt <= MAX_RETRIES && isRetryable(e)) {
                        backOff(attempt);
                        continue;
                    }
                    throw failure(e, attempt);
                } catch (RuntimeException | Error e) {
                    rollback(c, e);
                    throw e;
                }
            }
        }
    }

    private ConnectionPool.Lease acquire() {
        try {
            return pool.acquire();
        } catch (StoreException e) {
            errors.increment();
            throw e;
        }
    }

    private static void rollback(Connection c, Throwable cause) {
        try {
            c.rollback();
        } catch (SQLException e) {
            cause.addSuppressed(e);   // the pool discards or resets the connection on return
        }
    }

    private void backOff(int attempt) {
        try {
            // Random, growing pause so two retried transactions do not collide again in step.
            Thread.sleep(ThreadLocalRandom.current().nextLong(5, 20) * attempt);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new StoreException(display + ": interrupted while retrying a transaction");
        }
    }

    private StoreException failure(SQLException e, int attempts) {
        errors.increment();
        return new StoreException(display + ": " + ConnectionPool.oneLine(e.getMessage())
                + (attempts > 1 ? " (gave up after " + attempts + " attempts)" : ""), e);
    }

    /**
     * Deadlock or lock-wait timeout, which InnoDB and H2 resolve by failing one transaction that
     * may simply run again: SQLState 40001 (serialization failure), MySQL 1213 (deadlock) and 1205
     * (lock wait timeout), H2 50200 (lock timeout) and 90131 (concurrent update of a row).
     */
    static boolean isRetryable(SQLException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof SQLException s) {
                int code = s.getErrorCode();
                if ("40001".equals(s.getSQLState()) || code == 1213 || code == 1205 || code == 40001
                        || code == 50200 || code == 90131) {
                    return true;
                }
            }
        }
        return false;
    }

    public boolean isEmbedded() {
        return embedded;
    }

    /** How messages name this database, e.g. "mysql 127.0.0.1:3306/ibex". */
    public String display() {
        return display;
    }

    /** Database errors so far: failed work (after retries) and connections not obtained. */
    public long errors() {
        return errors.sum();
    }

    public PoolStats poolStats() {
        return pool.stats();
    }

    ConnectionPool pool() {
        return pool;
    }

    /** Runs after close; the test harness uses it to drop scratch databases. */
    void afterClose(Runnable action) {
        afterClose.add(action);
    }

    /**
     * Closes the pool; for H2 also shuts the database down when a borrowed connection was never
     * returned, so the file is complete on disk either way. Safe to call twice.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (upkeep != null) {
            upkeep.close();
        }
        boolean leaked = pool.stats().inUse() > 0;
        pool.close();
        // H2 closes the file itself when its last connection closes; only a leaked one keeps it open.
        if (embedded && leaked) {
            try (Connection c = opener.open(); Statement s = c.createStatement()) {
                s.execute("SHUTDOWN");
            } catch (SQLException e) {
                // Cannot reach the file any more; the leaked connection's owner gets the error.
            }
        }
        for (Runnable r : afterClose) {
            r.run();
        }
    }
}
