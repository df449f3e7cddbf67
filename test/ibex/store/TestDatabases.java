package ibex.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.stream.Stream;

import org.junit.jupiter.api.Named;

/**
 * Fresh databases for tests: an H2 file in a new temp dir (always), and a new scratch database on
 * the local MariaDB at 127.0.0.1:3306 as root with an empty password (when it answers; in CI,
 * where CI=true, it must answer and the MariaDB cases fail instead of disappearing).
 *
 * <p>Use: {@code @ParameterizedTest @MethodSource("ibex.store.TestDatabases#databases")
 * void x(Supplier<Database> db) { try (Database d = db.get()) { ... } }}. Closing the Database
 * deletes the H2 dir or drops the MariaDB database.
 */
public final class TestDatabases {
    public static final String MARIADB_HOST = "127.0.0.1:3306";
    private static final String ADMIN_URL = "jdbc:mysql://" + MARIADB_HOST + "/?connectTimeout=2000&sslMode=DISABLED";
    private static final String USER = "root";
    private static final String PASSWORD = "";
    private static volatile String mariadbProblem;   // null until probed; "" when reachable

    private TestDatabases() {
    }

    /** A fresh, schema'd H2 file database in a new temp dir, removed on close (or at JVM exit). */
    public static Database h2() {
        Path dir = tempDir("ibex-h2-");
        return withCleanup(Database.open(h2Settings(dir)), () -> deleteTree(dir));
    }

    /** Settings for an H2 file {@code ibex} in dir (created and schema'd on first open). */
    public static DbSettings h2Settings(Path dir) {
        Path file = dir.resolve("ibex");
        return new DbSettings("h2", "jdbc:h2:file:" + file + ";MODE=MySQL;DATABASE_TO_LOWER=TRUE", "sa", "", 4,
                "h2 " + file);
    }

    /** Whether MariaDB answers on 127.0.0.1:3306 as root (probed once per JVM). */
    public static boolean mariadbAvailable() {
        return mariadbProblem().isEmpty();
    }

    /** "" when MariaDB answers, else why not. */
    static String mariadbProblem() {
        String p = mariadbProblem;
        if (p == null) {
            try (Connection c = admin()) {
                p = c.isValid(2) ? "" : "connection not valid";
            } catch (SQLException e) {
                p = ConnectionPool.oneLine(e.getMessage());
            }
            mariadbProblem = p;
        }
        return p;
    }

    /** A fresh scratch database on MariaDB with the ibex schema; close() drops it. */
    public static Database mariadb() {
        String name = freshMariadbDatabase();
        try {
            return withCleanup(Database.open(mariadbSettings(name)), () -> dropMariadb(name));
        } catch (RuntimeException e) {
            dropMariadb(name);
            throw e;
        }
    }

    /** Settings for database name on the local MariaDB, e.g. for a server process under test. */
    public static DbSettings mariadbSettings(String dbName) {
        return new DbSettings("mysql", "jdbc:mysql://" + MARIADB_HOST + "/" + dbName + "?sslMode=DISABLED", USER,
                PASSWORD, 4, "mysql " + MARIADB_HOST + "/" + dbName);
    }

    /** Creates {@code ibex_t<hex>} with the ibex schema and returns its name; drop it when done. */
    public static String freshMariadbDatabase() {
        String name = emptyMariadbDatabase();
        try (Connection c = admin(); Statement s = c.createStatement()) {
            s.execute("USE " + name);
            for (String statement : Schema.statements()) {
                s.execute(statement);
            }
        } catch (SQLException e) {
            dropMariadb(name);
            throw new IllegalStateException("cannot apply the schema to MariaDB database " + name + ": " + e, e);
        }
        return name;
    }

    /** Creates {@code ibex_t<hex>} with no tables at all; drop it when done. */
    public static String emptyMariadbDatabase() {
        String name = "ibex_t" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
        sqlAsRoot("CREATE DATABASE " + name + " DEFAULT CHARSET utf8mb4 COLLATE utf8mb4_unicode_ci");
        return name;
    }

    public static void dropMariadb(String name) {
        if (!name.matches("ibex_t[0-9a-f]+")) {
            throw new IllegalArgumentException("refusing to drop '" + name + "': not a scratch database of TestDatabases");
        }
        sqlAsRoot("DROP DATABASE IF EXISTS " + name);
    }

    /** Runs statements as root on MariaDB, outside any database (names qualify their tables). */
    public static void sqlAsRoot(String... statements) {
        try (Connection c = admin(); Statement s = c.createStatement()) {
            for (String statement : statements) {
                s.execute(statement);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("MariaDB at " + MARIADB_HOST + ": " + e.getMessage(), e);
        }
    }

    /**
     * The databases every store test runs against: H2 always; MariaDB when it answers, and in CI
     * (CI=true) also when it does not, so that its cases fail there rather than vanish.
     */
    public static Stream<Named<Supplier<Database>>> databases() {
        List<Named<Supplier<Database>>> list = new ArrayList<>();
        list.add(Named.of("h2", TestDatabases::h2));
        if (mariadbAvailable()) {
            list.add(Named.of("mariadb", TestDatabases::mariadb));
        } else if ("true".equals(System.getenv("CI"))) {
            String why = mariadbProblem();
            list.add(Named.of("mariadb (unreachable)", () -> {
                throw new AssertionError("CI=true but MariaDB at " + MARIADB_HOST + " does not answer as root: " + why);
            }));
        }
        return list.stream();
    }

    static Connection admin() throws SQLException {
        return DriverManager.getConnection(ADMIN_URL, USER, PASSWORD);
    }

    static Path tempDir(String prefix) {
        try {
            Path dir = Files.createTempDirectory(prefix);
            Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(() -> deleteTree(dir)));
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(dir)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Database withCleanup(Database db, Runnable cleanup) {
        db.afterClose(cleanup);
        return db;
    }
}
