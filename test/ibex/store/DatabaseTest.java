package ibex.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class DatabaseTest {
    private static final String BOTH = "ibex.store.TestDatabases#databases";

    // ---- schema: creation, acceptance, refusal -------------------------------------------------

    @Test
    void emptyH2_getsTheSchema_inAnOwnerOnlyDir_andIsAcceptedOnReopen() throws IOException {
        Path root = TestDatabases.tempDir("ibex-db-");
        Path dir = root.resolve("data");
        DbSettings settings = TestDatabases.h2Settings(dir);
        try (Database db = Database.open(settings)) {
            assertTrue(db.isEmbedded());
            assertEquals("h2 " + dir.resolve("ibex"), db.display());
            db.inTransaction(c -> insertAction(c, 7));
        }
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        try (Database db = Database.open(settings)) {
            assertEquals(List.of(1), db.read(c -> ints(c, "SELECT version FROM ibex_schema")));
            assertEquals(List.of(7), db.read(c -> ints(c, "SELECT id FROM task_action")), "data survives a reopen");
        } finally {
            TestDatabases.deleteTree(root);
        }
    }

    @Test
    void compact_shrinksTheEmbeddedFileToItsData_andKeepsEveryRow() throws IOException {
        Path root = TestDatabases.tempDir("ibex-compact-");
        DbSettings h2 = TestDatabases.h2Settings(root.resolve("data"));
        // H2 compacts for up to 200 ms when the last connection closes, which on a fast run left
        // little to compact; a server under load does not get that far, so the test switches it off.
        // The long retention keeps the upkeep from reusing the dead chunks first on a slow run.
        DbSettings settings = new DbSettings(h2.type(), h2.jdbcUrl() + ";MAX_COMPACT_TIME=0;RETENTION_TIME=600000", h2.user(), h2.password(),
                h2.maxOpenConns(), h2.display());
        try {
            int tasks = 3000;
            try (Database db = Database.open(settings)) {
                var store = new TaskStore(db);
                for (int i = 0; i < tasks; i++) {
                    // One commit each, as creations arriving one by one are: each leaves dead pages behind.
                    Tasks.create(store, Tasks.spec("h1", "h2"), Tasks.now());
                }
            }
            // (Refused while a server holds the file: that is another process; BinaryEndToEndTest.)
            var done = Database.compact(settings);
            assertEquals(root.resolve("data/ibex.mv.db"), done.file());
            assertTrue(done.after() * 4 < done.before(), "a quarter or less of " + done.before() + " bytes: " + done.after());
            assertEquals(done.after(), Files.size(done.file()));
            try (Database db = Database.open(settings)) {
                assertEquals(List.of(tasks), db.read(c -> ints(c, "SELECT count(*) FROM task_meta")));
                assertEquals(List.of(2 * tasks), db.read(c -> ints(c, "SELECT count(*) FROM task_host")));
            }
        } finally {
            TestDatabases.deleteTree(root);
        }
    }

    @Test
    void upkeep_givesTheEmbeddedFileItsSpaceBack_underConcurrentCreations() throws IOException {
        // The same 6,000 creations from 8 threads twice. Commits that share the file this way leave
        // most chunks with a live page or two, so a chunk comes free only once the upkeep has moved
        // those pages (P6: 12 KB of file per creation before, for 0.16 KB of data).
        // Kept: a retention longer than the test, so nothing old can be moved or reused, which is
        // what H2 did before the upkeep (45 s retention, no rewriting with WRITE_DELAY=0).
        // Reused: no retention, and the upkeep's passes (rewrite, sync, reuse) run every 20 ms from
        // here, not from its clock.
        // (No retention without the passes gave 1.3-1.7 times less than kept here: the passes matter.)
        long kept = fileAfterConcurrentCreations(";RETENTION_TIME=600000", false);
        long reused = fileAfterConcurrentCreations(";RETENTION_TIME=0", true);
        assertTrue(reused * 4 < kept, "a quarter or less of " + kept + " bytes: " + reused);
    }

    @Test
    void upkeep_isForAFileInThisProcess_anH2ServerOverTcpOpensWithoutIt() throws Exception {
        // A tcp: URL reaches H2 in another process (here: H2's own server on a free port), whose
        // file this process cannot keep up; opening such a store must still work.
        Path root = TestDatabases.tempDir("ibex-h2tcp-");
        var server = org.h2.tools.Server.createTcpServer("-tcpPort", "0", "-ifNotExists", "-baseDir", root.toString()).start();
        try (Database db = Database.open(new DbSettings("h2", "jdbc:h2:tcp://127.0.0.1:" + server.getPort() + "/ibex", "sa", "", 2, null))) {
            db.inTransaction(c -> insertAction(c, 9));
            assertEquals(List.of(9), db.read(c -> ints(c, "SELECT id FROM task_action")));
            assertTrue(db.fileUpkeep().isEmpty(), "no upkeep, no file gauges");
        } finally {
            server.stop();
            TestDatabases.deleteTree(root);
        }
    }

    @Test
    void upkeep_runsOnItsOwn_movesPagesAndSyncsTheFile() throws IOException {
        Path root = TestDatabases.tempDir("ibex-upkeep-");
        Path file = root.resolve("data/ibex.mv.db");
        try (Database db = Database.open(h2With(root, ";RETENTION_TIME=0"))) {
            var upkeep = db.fileUpkeep().orElseThrow();
            createConcurrently(db, 4000, () -> { });
            awaitAtLeast(upkeep.rewrites(), 1, "the upkeep's thread moved pages by itself");
            awaitAtLeast(upkeep.syncs(), 1, "the upkeep forced the file to disk");
            assertTrue(upkeep.lastSyncMillis().getAsLong() > System.currentTimeMillis() - 60_000, "a recent sync");
            long before = Files.size(file);
            long gauge = upkeep.bytes().getAsLong();
            long after = Files.size(file);
            assertTrue(before <= gauge && gauge <= after, before + " <= " + gauge + " <= " + after);
        } finally {
            TestDatabases.deleteTree(root);
        }
    }

    @Test
    void upkeep_keepsItsStore_whenThePoolClosesAllItsConnections() throws IOException {
        // H2 closes a database with its last connection; the upkeep holds one of its own, so the
        // store it keeps up stays the store the pool reopens into.
        Path root = TestDatabases.tempDir("ibex-upkeep-");
        DbSettings one = h2With(root, "");
        try (Database db = Database.open(new DbSettings(one.type(), one.jdbcUrl(), one.user(), one.password(), 1, one.display()))) {
            var upkeep = db.fileUpkeep().orElseThrow();
            db.read(c -> {
                c.close();      // the pool finds it closed and drops it: it held the pool's only connection
                return null;
            });
            // A sync happens only after a write; one may be under way already when the first lands.
            long syncs = upkeep.syncs().getAsLong();
            db.inTransaction(c -> insertAction(c, 11));
            awaitAtLeast(upkeep.syncs(), syncs + 1, "the upkeep goes on syncing");
            db.inTransaction(c -> insertAction(c, 12));
            awaitAtLeast(upkeep.syncs(), syncs + 2, "the upkeep syncs the next write too");
            assertEquals(List.of(11, 12), db.read(c -> ints(c, "SELECT id FROM task_action ORDER BY id")));
        } finally {
            TestDatabases.deleteTree(root);
        }
    }

    @Test
    void upkeep_forcesWhatWasWrittenBeforeIt_withoutWaitingForAWrite() throws IOException {
        // The schema is written before the upkeep starts; later syncs skip while nothing new is written.
        Path root = TestDatabases.tempDir("ibex-upkeep-");
        try (Database db = Database.open(h2With(root, ""))) {
            var upkeep = db.fileUpkeep().orElseThrow();
            assertTrue(upkeep.syncs().getAsLong() >= 1, "the new file was forced to disk at start");
            assertTrue(upkeep.lastSyncMillis().getAsLong() > 0, "and the sync time says so");
        } finally {
            TestDatabases.deleteTree(root);
        }
    }

    @Test
    void upkeep_onAnIdleStore_keepsTheSyncTimeFresh_withoutForcingTheFileAgain() throws Exception {
        // /metrics' synced timestamp must stay current on a quiet server, and a quiet server must
        // not fsync ten times a second for nothing.
        Path root = TestDatabases.tempDir("ibex-upkeep-");
        try (Database db = Database.open(h2With(root, ""))) {
            var upkeep = db.fileUpkeep().orElseThrow();
            db.inTransaction(c -> insertAction(c, 1));
            awaitAtLeast(upkeep.syncs(), 1, "the write was forced to disk");
            // Sample for 1.5 s. The upkeep's own pass may write once a second (then syncs once);
            // between such writes the sync time must move on while the count of fsyncs stands still.
            long syncs = -1;
            var times = new HashSet<Long>();
            int freshWithoutSync = 0;
            for (long end = System.nanoTime() + 1_500_000_000L; System.nanoTime() < end; Thread.sleep(20)) {
                long n = upkeep.syncs().getAsLong();
                if (n != syncs) {
                    syncs = n;
                    times.clear();
                }
                times.add(upkeep.lastSyncMillis().getAsLong());
                freshWithoutSync = Math.max(freshWithoutSync, times.size());
            }
            assertTrue(freshWithoutSync >= 3, "the sync time moved on " + (freshWithoutSync - 1) + " times without an fsync");
        } finally {
            TestDatabases.deleteTree(root);
        }
    }

    private static void awaitAtLeast(LongSupplier value, long least, String what) {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (value.getAsLong() < least && System.nanoTime() < deadline) {
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
        assertTrue(value.getAsLong() >= least, what + ": " + value.getAsLong() + " < " + least);
    }

    private static DbSettings h2With(Path root, String options) {
        DbSettings h2 = TestDatabases.h2Settings(root.resolve("data"));
        return new DbSettings(h2.type(), h2.jdbcUrl() + options + ";MAX_COMPACT_TIME=0", h2.user(), h2.password(),
                h2.maxOpenConns(), h2.display());
    }

    private static long fileAfterConcurrentCreations(String retention, boolean rewrite) throws IOException {
        Path root = TestDatabases.tempDir("ibex-upkeep-");
        try (Database db = Database.open(h2With(root, retention))) {
            createConcurrently(db, 6000, () -> {
                if (rewrite) {
                    db.upkeepPass();
                }
            });
            assertTrue(!rewrite || db.fileUpkeep().orElseThrow().rewrites().getAsLong() > 0, "the upkeep moved pages");
            return Files.size(root.resolve("data/ibex.mv.db"));
        } finally {
            TestDatabases.deleteTree(root);
        }
    }

    /** {@code count} creations, one commit each, from 8 threads; {@code meanwhile} runs every 20 ms until they end. */
    private static void createConcurrently(Database db, int count, Runnable meanwhile) {
        var store = new TaskStore(db);
        var left = new AtomicInteger(count);
        var threads = new ArrayList<Thread>();
        for (int t = 0; t < 8; t++) {
            threads.add(Thread.ofPlatform().start(() -> {
                while (left.decrementAndGet() >= 0) {
                    Tasks.create(store, Tasks.spec("h1", "h2"), Tasks.now());
                }
            }));
        }
        try {
            for (var t : threads) {
                while (!t.join(Duration.ofMillis(20))) {
                    meanwhile.run();
                }
            }
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
        assertEquals(List.of(count), db.read(c -> ints(c, "SELECT count(*) FROM task_meta")));
    }

    @Test
    void compact_refusesMysql_andAMissingFile_withoutCreatingOne() throws IOException {
        var mysql = assertThrows(StoreException.class,
                () -> Database.compact(new DbSettings("mysql", "jdbc:mysql://127.0.0.1:3306/ibex", "root", "", 1, null)));
        assertTrue(mysql.getMessage().contains("embedded store"), mysql.getMessage());
        Path root = TestDatabases.tempDir("ibex-compact-");
        try {
            var missing = assertThrows(StoreException.class, () -> Database.compact(TestDatabases.h2Settings(root.resolve("nope"))));
            assertTrue(missing.getMessage().startsWith("no embedded store at "), missing.getMessage());
            assertFalse(Files.exists(root.resolve("nope")));
        } finally {
            TestDatabases.deleteTree(root);
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void freshDatabase_hasVersion1AndEveryTable(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            assertEquals(List.of(Database.SCHEMA_VERSION), db.read(c -> ints(c, "SELECT version FROM ibex_schema")));
            for (String table : Schema.TABLES) {
                assertEquals(List.of(0), db.read(c -> ints(c, "SELECT count(*) FROM " + table + " WHERE 1 = 0")));
            }
        }
    }

    @Test
    void h2_withSchemaVersion7_isRefused() throws SQLException {
        Path dir = TestDatabases.tempDir("ibex-db-");
        DbSettings settings = TestDatabases.h2Settings(dir);
        rawH2(settings, "CREATE TABLE ibex_schema (version int NOT NULL, PRIMARY KEY (version))",
                "INSERT INTO ibex_schema VALUES (7)");
        StoreException e = assertThrows(StoreException.class, () -> Database.open(settings));
        assertEquals("database h2 " + dir.resolve("ibex") + " has schema version 7, this ibex needs 1", e.getMessage());
    }

    @Test
    void h2_withOnlyForeignTables_isRefusedAndLeftAlone() throws SQLException {
        Path dir = TestDatabases.tempDir("ibex-db-");
        DbSettings settings = TestDatabases.h2Settings(dir);
        rawH2(settings, "CREATE TABLE invoices (id int)");
        StoreException e = assertThrows(StoreException.class, () -> Database.open(settings));
        assertEquals("database h2 " + dir.resolve("ibex")
                + " has no ibex schema (table ibex_schema missing, found invoices): use a new H2 file for ibex", e.getMessage());
    }

    @Test
    void h2_leftHalfCreated_isCompletedOnOpen() throws SQLException {
        Path dir = TestDatabases.tempDir("ibex-db-");
        DbSettings settings = TestDatabases.h2Settings(dir);
        Database.open(settings).close();
        rawH2(settings, "DROP TABLE task_host");
        try (Database db = Database.open(settings)) {
            assertEquals(List.of(0), db.read(c -> ints(c, "SELECT count(*) FROM task_host")));
        }
    }

    @Test
    void mariadb_withSchemaVersion7_isRefused() {
        assumeMariadb();
        String name = TestDatabases.freshMariadbDatabase();
        try {
            TestDatabases.sqlAsRoot("UPDATE " + name + ".ibex_schema SET version = 7");
            StoreException e = assertThrows(StoreException.class, () -> Database.open(TestDatabases.mariadbSettings(name)));
            assertEquals("database mysql 127.0.0.1:3306/" + name + " has schema version 7, this ibex needs 1", e.getMessage());
        } finally {
            TestDatabases.dropMariadb(name);
        }
    }

    @Test
    void mariadb_withoutIbexTables_isRefusedWithWhatToRun() {
        assumeMariadb();
        String name = TestDatabases.emptyMariadbDatabase();
        try {
            StoreException e = assertThrows(StoreException.class, () -> Database.open(TestDatabases.mariadbSettings(name)));
            assertEquals("database mysql 127.0.0.1:3306/" + name
                    + " has no ibex schema (table ibex_schema missing): run  mysql < sql/ibex.sql", e.getMessage());
            TestDatabases.sqlAsRoot("SELECT 1");   // still there, still empty: MySQL is never written to
        } finally {
            TestDatabases.dropMariadb(name);
        }
    }

    @Test
    void mariadb_missingATable_isRefusedNamingIt() {
        assumeMariadb();
        String name = TestDatabases.freshMariadbDatabase();
        try {
            TestDatabases.sqlAsRoot("DROP TABLE " + name + ".task_host");
            StoreException e = assertThrows(StoreException.class, () -> Database.open(TestDatabases.mariadbSettings(name)));
            assertEquals("database mysql 127.0.0.1:3306/" + name
                    + " has schema version 1 but lacks table task_host: run  mysql < sql/ibex.sql", e.getMessage());
        } finally {
            TestDatabases.dropMariadb(name);
        }
    }

    @Test
    void unreachableMysql_saysWhereAndWhy_butNotThePassword() {
        DbSettings settings = new DbSettings("mysql", "jdbc:mysql://127.0.0.1:1/ibex", "ibex", "s3cret-pw", 2, "");
        StoreException e = assertThrows(StoreException.class, () -> Database.open(settings));
        assertTrue(e.getMessage().startsWith("cannot connect to mysql 127.0.0.1:1/ibex: Communications link failure"),
                e.getMessage());
        assertFalse(e.getMessage().contains("s3cret-pw"), e.getMessage());
        assertFalse(e.getMessage().contains("\n"), e.getMessage());
    }

    @Test
    void badSettings_areRefusedWithTheValueFound() {
        assertEquals("database type must be h2 or mysql, got 'postgres'", assertThrows(StoreException.class,
                () -> Database.open(new DbSettings("postgres", "jdbc:postgresql://x/y", "u", "p", 1, ""))).getMessage());
        assertEquals("database type mysql needs a jdbc:mysql: URL, got one starting 'jdbc:h2:'", assertThrows(StoreException.class,
                () -> Database.open(new DbSettings("mysql", "jdbc:h2:file:/x;PASSWORD=no", "u", "p", 1, ""))).getMessage());
        assertEquals("database pool size (maxOpenConns) must be at least 1, got 0", assertThrows(StoreException.class,
                () -> Database.open(new DbSettings("mysql", "jdbc:mysql://127.0.0.1/ibex", "u", "p", 0, ""))).getMessage());
    }

    @Test
    void display_isDerivedWithoutCredentialsOrOptions() {
        assertEquals("mysql 127.0.0.1:3306/ibex", Database.describe("mysql", "jdbc:mysql://u:pw@127.0.0.1:3306/ibex?password=pw"));
        assertEquals("mysql db.example:3306/ibex", Database.describe("mysql", "jdbc:mysql://db.example:3306/ibex"));
        assertEquals("h2 /var/lib/ibex/ibex", Database.describe("h2", "jdbc:h2:file:/var/lib/ibex/ibex;MODE=MySQL"));
        assertEquals("h2 mem:x", Database.describe("h2", "jdbc:h2:mem:x;MODE=MySQL"));
        assertFalse(new DbSettings("mysql", "jdbc:mysql://h/ibex?password=pw", "u", "pw", 1, "").toString().contains("pw"));
    }

    @Test
    void h2Url_addsOnlyTheOptionsThatAreMissing() {
        assertEquals("jdbc:h2:file:/d/ibex;MODE=MySQL;LOCK_TIMEOUT=500;DATABASE_TO_LOWER=TRUE;WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE"
                + ";QUERY_CACHE_SIZE=64;CACHE_SIZE=1024",
                Database.h2Url("jdbc:h2:file:/d/ibex;MODE=MySQL;LOCK_TIMEOUT=500"));
        // QUERY_CACHE_SIZE is another option than CACHE_SIZE; a URL's own CACHE_SIZE wins.
        assertTrue(Database.h2Url("jdbc:h2:file:/d/ibex;query_cache_size=8").endsWith(";query_cache_size=8;MODE=MySQL"
                + ";DATABASE_TO_LOWER=TRUE;LOCK_TIMEOUT=10000;WRITE_DELAY=0;DB_CLOSE_ON_EXIT=FALSE;CACHE_SIZE=1024"));
        assertEquals("jdbc:h2:file:/d/ibex;CACHE_SIZE=65536;MODE=MySQL;DATABASE_TO_LOWER=TRUE;LOCK_TIMEOUT=10000;WRITE_DELAY=0"
                + ";DB_CLOSE_ON_EXIT=FALSE;QUERY_CACHE_SIZE=64",
                Database.h2Url("jdbc:h2:file:/d/ibex;CACHE_SIZE=65536"));
    }

    @Test
    void schemaStatements_dropComments_andTheDatabaseLines() {
        List<String> statements = Schema.statements();
        // One CREATE TABLE per table the code relies on, plus the schema-version INSERT.
        assertEquals(Schema.TABLES.size() + 1, statements.size(), statements.toString());
        assertTrue(statements.getFirst().startsWith("CREATE TABLE IF NOT EXISTS ibex_schema"), statements.getFirst());
        for (String s : statements) {
            assertFalse(s.contains("--") || s.contains(";") || s.startsWith("USE") || s.startsWith("CREATE DATABASE"), s);
        }
        assertEquals(List.of("CREATE TABLE a (\n  x int\n)", "INSERT INTO a VALUES (1)"),
                Schema.statements("-- c\nCREATE DATABASE IF NOT EXISTS ibex;\nuse ibex;\n\nCREATE TABLE a (\n  x int\n);\n"
                        + "  -- indented comment\nINSERT INTO a VALUES (1);\n"));
    }

    /** The file's promise to operators: {@code mysql < sql/ibex.sql} may be run again at any time. */
    @Test
    void schemaFile_throughTheMariadbClient_succeedsTwice() throws Exception {
        assumeMariadb();
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/mariadb")) || "true".equals(System.getenv("CI")),
                "no mariadb client");
        String name = TestDatabases.emptyMariadbDatabase();
        TestDatabases.dropMariadb(name);   // only the name: the script itself must create the database
        String original = Schema.script();
        String renamed = original.replaceAll("(?m)^CREATE DATABASE IF NOT EXISTS ibex ", "CREATE DATABASE IF NOT EXISTS " + name + " ")
                .replaceAll("(?m)^USE ibex;", "USE " + name + ";");
        assertEquals(2, renamed.split(name, -1).length - 1, "both database lines must be renamed, or the run would touch 'ibex'");
        Path script = Files.createTempFile("ibex-sql-", ".sql");
        try {
            Files.writeString(script, renamed);
            for (int run = 1; run <= 2; run++) {
                Process p = new ProcessBuilder("mariadb", "-h127.0.0.1", "-uroot")
                        .redirectInput(script.toFile()).redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes());
                assertTrue(p.waitFor(30, TimeUnit.SECONDS));
                assertEquals(0, p.exitValue(), "run " + run + ": " + out);
            }
            try (Database db = Database.open(TestDatabases.mariadbSettings(name))) {
                assertEquals(List.of(1), db.read(c -> ints(c, "SELECT version FROM ibex_schema")));
            }
        } finally {
            Files.deleteIfExists(script);
            TestDatabases.dropMariadb(name);
        }
    }

    // ---- transactions ---------------------------------------------------------------------------

    @ParameterizedTest
    @MethodSource(BOTH)
    void inTransaction_commitsWhenWorkReturns(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            assertEquals("done", db.inTransaction(c -> {
                insertAction(c, 1);
                insertAction(c, 2);
                return "done";
            }));
            assertEquals(List.of(1, 2), db.read(c -> ints(c, "SELECT id FROM task_action ORDER BY id")));
            assertEquals(0, db.poolStats().inUse());
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void inTransaction_rollsBack_andRethrowsADomainExceptionUnchanged(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            IllegalStateException refusal = new IllegalStateException("task 1: refused");
            assertSame(refusal, assertThrows(IllegalStateException.class, () -> db.inTransaction(c -> {
                insertAction(c, 1);
                throw refusal;
            })));
            assertEquals(List.of(), db.read(c -> ints(c, "SELECT id FROM task_action")));
            assertEquals(0, db.poolStats().inUse());
        }
    }

    /**
     * H2 keeps each connection's statement parses (QUERY_CACHE_SIZE) until the connection rolls
     * back, even a rollback of nothing: a committed transaction must hand its connection back
     * without one, or every statement after every transaction is parsed again (issue 6, P6). The
     * parse is H2's command object behind the JDBC statement; the same object again came from the cache.
     */
    @Test
    void h2_statementParses_surviveACommittedTransaction() throws Exception {
        Path dir = TestDatabases.tempDir("ibex-db-");
        DbSettings h2 = TestDatabases.h2Settings(dir);
        try (Database db = Database.open(new DbSettings(h2.type(), h2.jdbcUrl(), h2.user(), h2.password(), 1, h2.display()))) {
            String sql = "SELECT id FROM task_action WHERE id = ?";
            Object parse = db.read(c -> h2Command(c, sql));
            assertSame(parse, db.read(c -> h2Command(c, sql)), "H2 reuses a parse at all");
            db.inTransaction(c -> insertAction(c, 1));
            assertSame(parse, db.read(c -> h2Command(c, sql)), "the parse survives a committed transaction");
        } finally {
            TestDatabases.deleteTree(dir);
        }
    }

    private static Object h2Command(Connection c, String sql) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(sql)) {
            var field = ps.getClass().getDeclaredField("command");
            field.setAccessible(true);
            return field.get(ps);
        } catch (ReflectiveOperationException e) {
            throw new AssertionError("H2's JdbcPreparedStatement has no field 'command' any more: update this test", e);
        }
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void inTransaction_rollsBack_andWrapsAnSqlFailureNamingTheDatabase(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            StoreException e = assertThrows(StoreException.class, () -> db.inTransaction(c -> {
                insertAction(c, 1);
                insertAction(c, 1);   // duplicate primary key
                return null;
            }));
            assertTrue(e.getMessage().startsWith(db.display() + ": "), e.getMessage());
            assertEquals("23", e.sqlState().substring(0, 2), e.sqlState());
            assertEquals(List.of(), db.read(c -> ints(c, "SELECT id FROM task_action")));
            assertEquals(Boolean.TRUE, db.read(c -> c.getAutoCommit()), "the pool must hand out autocommit connections again");
        }
    }

    /** A value the store refuses (a CHECK, one too long) is the data's fault; a statement it cannot run is not. */
    @ParameterizedTest
    @MethodSource(BOTH)
    void refusedData_isTrueForTheDataOnly(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            db.inTransaction(c -> {
                try (Statement st = c.createStatement()) {
                    st.execute("ALTER TABLE task_action ADD CONSTRAINT test_small_ids CHECK (id < 100)");
                }
                return null;
            });
            StoreException check = assertThrows(StoreException.class, () -> db.inTransaction(c -> insertAction(c, 500)));
            assertTrue(check.refusedData(), check.sqlState() + " " + check.getMessage());
            StoreException tooLong = assertThrows(StoreException.class, () -> db.inTransaction(c -> {
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO task_action (id, action, clock) VALUES (1, ?, 0)")) {
                    ps.setString(1, "x".repeat(1000));
                    return ps.executeUpdate();
                }
            }));
            assertTrue(tooLong.refusedData(), tooLong.sqlState() + " " + tooLong.getMessage());
            StoreException syntax = assertThrows(StoreException.class, () -> db.inTransaction(c -> {
                try (Statement st = c.createStatement()) {
                    return st.execute("SELEC 1");
                }
            }));
            assertFalse(syntax.refusedData(), syntax.sqlState() + " " + syntax.getMessage());
        }
    }

    /** MySQL (not MariaDB, which runs here) sends a CHECK violation and a string its charset cannot hold as HY000. */
    @Test
    void refusedData_knowsMysqlsGeneralStateForCheckAndCharset() {
        assertTrue(new StoreException("x", new SQLException("Check constraint 'c' is violated.", "HY000", 3819)).refusedData());
        assertTrue(new StoreException("x", new SQLException("Incorrect string value", "HY000", 1366)).refusedData());
        assertFalse(new StoreException("x", new SQLException("Communications link failure", "08S01", 0)).refusedData());
        assertFalse(new StoreException("x", new SQLException("Lock wait timeout exceeded", "40001", 1205)).refusedData());
    }

    @ParameterizedTest
    @MethodSource(BOTH)
    void inTransaction_retriesADeadlock_upTo3Times(Supplier<Database> fresh) {
        try (Database db = fresh.get()) {
            AtomicInteger attempts = new AtomicInteger();
            assertEquals("ok", db.inTransaction(c -> {
                insertAction(c, 5);
                if (attempts.incrementAndGet() < 4) {
                    throw new SQLException("Deadlock found when trying to get lock", "40001", 1213);
                }
                return "ok";
            }));
            assertEquals(4, attempts.get());
            assertEquals(List.of(5), db.read(c -> ints(c, "SELECT id FROM task_action")));

            attempts.set(0);
            StoreException e = assertThrows(StoreException.class, () -> db.inTransaction(c -> {
                attempts.incrementAndGet();
                throw new SQLException("Lock wait timeout exceeded; try restarting transaction", "HY000", 1205);
            }));
            assertEquals(4, attempts.get());
            assertEquals(db.display() + ": Lock wait timeout exceeded; try restarting transaction (gave up after 4 attempts)",
                    e.getMessage());
        }
    }

    @Test
    void retryable_meansDeadlockOrLockWait_onBothEngines() {
        assertTrue(Database.isRetryable(new SQLException("Deadlock found", "40001", 1213)));
        assertTrue(Database.isRetryable(new SQLException("Lock wait timeout exceeded", "HY000", 1205)));
        assertTrue(Database.isRetryable(new SQLException("Deadlock detected", "40001", 40001)));
        assertTrue(Database.isRetryable(new SQLException("Timeout trying to lock table", "HYT00", 50200)));
        assertTrue(Database.isRetryable(new SQLException("Concurrent update", "90131", 90131)));
        assertFalse(Database.isRetryable(new SQLException("Duplicate entry", "23000", 1062)));
        assertFalse(Database.isRetryable(new SQLException("Communications link failure", "08S01", 0)));
    }

    /**
     * A real InnoDB deadlock: the work holds row 1 and wants row 2, a helper holds row 2 and wants
     * row 1. InnoDB rolls back the transaction with less to undo, which is the work's (the helper
     * has written many more rows first), whichever of the two closes the cycle.
     */
    @Test
    void mariadbDeadlock_isRetried_andTheSecondAttemptCommits() throws Exception {
        assumeMariadb();
        try (Database db = TestDatabases.mariadb()) {
            db.inTransaction(c -> insertAction(c, 1) + insertAction(c, 2));
            CountDownLatch workHasRow1 = new CountDownLatch(1);
            CountDownLatch helperHasRow2 = new CountDownLatch(1);
            AtomicReference<Throwable> helperFailure = new AtomicReference<>();
            Thread helper = Thread.ofVirtual().start(() -> {
                try (Connection h = DriverManager.getConnection(
                        "jdbc:mysql://127.0.0.1:3306/" + db.display().substring(db.display().indexOf('/') + 1), "root", "")) {
                    h.setAutoCommit(false);
                    workHasRow1.await();
                    try (Statement s = h.createStatement()) {
                        for (int i = 0; i < 50; i++) {
                            s.executeUpdate("INSERT INTO task_scheduler_health (scheduler, clock) VALUES ('h" + i + "', 0)");
                        }
                        s.executeUpdate("UPDATE task_action SET clock = clock + 10 WHERE id = 2");
                        helperHasRow2.countDown();
                        Thread.sleep(200);
                        s.executeUpdate("UPDATE task_action SET clock = clock + 10 WHERE id = 1");
                    }
                    h.commit();
                } catch (Throwable t) {
                    helperFailure.set(t);
                }
            });
            AtomicInteger attempts = new AtomicInteger();
            db.inTransaction(c -> {
                attempts.incrementAndGet();
                try (Statement s = c.createStatement()) {
                    s.executeUpdate("UPDATE task_action SET clock = clock + 1 WHERE id = 1");
                    workHasRow1.countDown();
                    awaitLatch(helperHasRow2);
                    s.executeUpdate("UPDATE task_action SET clock = clock + 1 WHERE id = 2");
                }
                return null;
            });
            helper.join(30_000);
            assertEquals(null, helperFailure.get());
            assertEquals(2, attempts.get(), "the first attempt must have been the deadlock victim");
            assertEquals(List.of(11, 11), db.read(c -> ints(c, "SELECT clock FROM task_action ORDER BY id")));
        }
    }

    // ---- close ------------------------------------------------------------------------------

    @Test
    void h2Close_withALeakedConnection_stillClosesTheFile() throws SQLException {
        Path dir = TestDatabases.tempDir("ibex-db-");
        DbSettings settings = TestDatabases.h2Settings(dir);
        Database db = Database.open(settings);
        AtomicReference<Connection> leaked = new AtomicReference<>();
        ConnectionPool.Lease lease = leaseOf(db, leaked);
        db.close();
        db.close();
        assertTrue(leaked.get().isClosed(), "SHUTDOWN must have closed the leaked connection too");
        lease.close();
        try (Database again = Database.open(settings)) {
            assertEquals(List.of(1), again.read(c -> ints(c, "SELECT version FROM ibex_schema")));
        }
    }

    // ---- helpers --------------------------------------------------------------------------------

    /** Borrows without giving back: a stand-in for a caller that leaked a connection. */
    private static ConnectionPool.Lease leaseOf(Database db, AtomicReference<Connection> out) {
        ConnectionPool.Lease lease = db.pool().acquire();
        out.set(lease.connection());
        return lease;
    }

    private static int insertAction(Connection c, long id) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO task_action (id, action, clock) VALUES (?, 'start', 0)")) {
            ps.setLong(1, id);
            return ps.executeUpdate();
        }
    }

    private static List<Integer> ints(Connection c, String sql) throws SQLException {
        List<Integer> out = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getInt(1));
            }
        }
        return out;
    }

    private static void rawH2(DbSettings settings, String... statements) throws SQLException {
        try (Connection c = DriverManager.getConnection(settings.jdbcUrl(), settings.user(), settings.password());
             Statement s = c.createStatement()) {
            for (String statement : statements) {
                s.execute(statement);
            }
        }
    }

    private static void awaitLatch(CountDownLatch latch) {
        try {
            if (!latch.await(10, TimeUnit.SECONDS)) {
                throw new AssertionError("helper never got its row");
            }
        } catch (InterruptedException e) {
            throw new AssertionError(e);
        }
    }

    private static void assumeMariadb() {
        if ("true".equals(System.getenv("CI"))) {
            assertTrue(TestDatabases.mariadbAvailable(), "CI=true but MariaDB does not answer: " + TestDatabases.mariadbProblem());
        }
        assumeTrue(TestDatabases.mariadbAvailable(), "MariaDB at 127.0.0.1:3306 does not answer");
    }
}
