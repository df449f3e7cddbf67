package ibex.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ServerConfigTest {
    @TempDir
    Path dir;

    private Path write(String text) throws IOException {
        return Files.writeString(dir.resolve("server.conf"), text);
    }

    private ServerConfig load(String text) throws IOException {
        return ServerConfig.load(write(text));
    }

    /** {@code suffix} is everything after the file name: ":14: [HTTP] Port ...". */
    private void assertError(String suffix, String text) throws IOException {
        Path file = write(text);
        var e = assertThrows(ConfigException.class, () -> ServerConfig.load(file));
        assertEquals(file + suffix, e.getMessage());
    }

    @Test
    void shippedFile_loadsSecureDefaults_withoutWarnings() {
        var c = ServerConfig.load(Path.of("etc/server.conf"));
        assertEquals(List.of(), c.warnings());
        assertEquals(new ServerConfig.Http("127.0.0.1", 10090, null, null, 4 * 1024 * 1024, false, true), c.http());
        assertEquals(Map.of(), c.basicAuth());
        assertEquals(new ServerConfig.Rpc("0.0.0.0", 20090, null, null, null, 0), c.rpc());
        assertEquals(new ServerConfig.Heartbeat("", 1000), c.heartbeat());
        assertEquals("h2", c.db().type());
        assertEquals(16, c.db().maxOpenConns());
        assertEquals(new LogConfig("stdout", Path.of("logs").toAbsolutePath(), "INFO"), c.log());
    }

    @Test
    void emptyFile_givesEveryDefault() throws IOException {
        var c = load("");
        var data = Path.of("data/ibex").toAbsolutePath();
        assertEquals(new ServerConfig.Http("127.0.0.1", 10090, null, null, 4 * 1024 * 1024, false, true), c.http());
        assertEquals(new ServerConfig.Rpc("0.0.0.0", 20090, null, null, null, 0), c.rpc());
        assertEquals(new ServerConfig.Heartbeat("", 1000), c.heartbeat());
        assertEquals(new ServerConfig.Db("h2", "jdbc:h2:file:" + data
                + ";MODE=MySQL;DATABASE_TO_LOWER=TRUE;LOCK_TIMEOUT=10000;DB_CLOSE_ON_EXIT=FALSE", "", "", 16, "h2 " + data),
                c.db());
        assertEquals(List.of(), c.warnings());
    }

    @Test
    void originalOnlyKeys_loadWithOneWarningNamingThemAll() throws IOException {
        var c = load("""
                RunMode = "release"
                [HTTP]
                Port = 10091
                PProf = false
                [Redis]
                Address = "127.0.0.1:6379"
                [Output]
                """);
        assertEquals(10091, c.http().port());
        assertEquals(List.of(dir.resolve("server.conf") + ": ignoring keys of the original ibex that this ibex does not use:"
                + " RunMode, [HTTP] PProf, [Redis] Address, [Output]"), c.warnings());
    }

    @Test
    void v120File_withGormAndMysqlSections_connectsToMysql() throws IOException {
        var c = load("""
                RunMode = "debug"
                [BasicAuth]
                ibex = "s3cret"
                "ops team" = 'p@ss:word'
                [Gorm]
                Debug = true
                DBType = "mysql"
                MaxOpenConns = 150
                [MySQL]
                Host = "db.example"
                Port = 3307
                User = "root"
                Password = "1234"
                DBName = "ibex"
                Parameters = "charset=utf8mb4&parseTime=True&loc=Local&allowNativePasswords=true"
                [Postgres]
                Host = "127.0.0.1"
                [Redis]
                Address = "127.0.0.1:6379"
                """);
        assertEquals(new ServerConfig.Db("mysql", "jdbc:mysql://db.example:3307/ibex?characterEncoding=UTF-8", "root", "1234",
                150, "mysql db.example:3307/ibex"), c.db());
        assertEquals(List.of("ibex", "ops team"), List.copyOf(c.basicAuth().keySet()));
        assertEquals("p@ss:word", c.basicAuth().get("ops team"));
        assertEquals(List.of(dir.resolve("server.conf") + ": ignoring keys of the original ibex that this ibex does not use:"
                + " RunMode, [Gorm] Debug, [Postgres] Host, [Redis] Address"), c.warnings());
    }

    @Test
    void gormSection_nextToDb_isIgnoredWithAWarning() throws IOException {
        var c = load("[DB]\nDSN = \"d\"\n[Gorm]\nDBType = \"mysql\"\n");
        assertEquals("h2", c.db().type());
        assertEquals(List.of(dir.resolve("server.conf") + ": ignoring keys of the original ibex that this ibex does not use:"
                + " [Gorm] DBType"), c.warnings());
    }

    @Test
    void mysqlSection_withAddress_andDsnInDb() throws IOException {
        var c = load("""
                [DB]
                DBType = "mysql"
                [MySQL]
                Address = "10.0.0.5:3306"
                User = "ibex"
                Password = "pw"
                DBName = "tasks"
                """);
        assertEquals("jdbc:mysql://10.0.0.5:3306/tasks", c.db().jdbcUrl());
        assertEquals("ibex", c.db().user());

        var d = load("""
                [DB]
                DBType = "mysql"
                DSN = "u:p@tcp(127.0.0.1:3306)/ibex?charset=utf8mb4&sql_mode=ANSI"
                [MySQL]
                Address = "ignored:3306"
                """);
        assertEquals("mysql 127.0.0.1:3306/ibex", d.db().display());
        var file = dir.resolve("server.conf");
        assertEquals(List.of(file + ": ignoring keys of the original ibex that this ibex does not use: [MySQL] Address",
                file + ":3: [DB] DSN: not passing on parameters the JDBC driver does not take: sql_mode"), d.warnings());
    }

    @Test
    void everyUsedKey_isRead() throws IOException {
        Files.writeString(dir.resolve("c.pem"), "");
        var c = load("""
                [Log]
                Output = "file"
                Dir = "/var/log/ibex"
                Level = "DEBUG"
                [HTTP]
                Host = "0.0.0.0"
                Port = 0
                CertFile = "c.pem"
                KeyFile = "/etc/k.pem"
                MaxContentLength = 2048
                AllowInsecure = true
                MetricsAuth = false
                [RPC]
                Listen = "[::1]:0"
                Token = "0123456789abcdef"
                CertFile = "r.pem"
                KeyFile = "rk.pem"
                [Limits]
                MaxHosts = 5
                MaxScriptBytes = 2048
                MaxArgsBytes = 4096
                MaxStdinBytes = 8192
                [Scheduler]
                NoAgentGrace = 3
                Backstop = 6
                RetentionDays = 0
                [Heartbeat]
                IP = "10.1.2.3"
                Interval = 100
                [DB]
                DSN = "x/y.mv.db"
                MaxOpenConns = 1000
                """);
        assertEquals(new LogConfig("file", Path.of("/var/log/ibex"), "DEBUG"), c.log());
        assertEquals(new ServerConfig.Http("0.0.0.0", 0, Path.of("c.pem").toAbsolutePath(), Path.of("/etc/k.pem"), 2048, true, false), c.http());
        assertEquals(new ServerConfig.Rpc("::1", 0, "0123456789abcdef", Path.of("r.pem").toAbsolutePath(), Path.of("rk.pem").toAbsolutePath(), 0), c.rpc());
        assertEquals(new ibex.core.TaskLimits(5, 2048, 4096, 8192), c.limits());
        assertEquals(new ServerConfig.Scheduler(3, 6, 0), c.scheduler());
        assertEquals(new ServerConfig.Heartbeat("10.1.2.3", 100), c.heartbeat());
        assertEquals("h2 " + Path.of("x/y").toAbsolutePath(), c.db().display());
        assertEquals(1000, c.db().maxOpenConns());
    }

    @Test
    void port_outOfRange_stopsWithFileLineAndKey() throws IOException {
        assertError(":3: [HTTP] Port must be 0..65535, got 70000", "[HTTP]\nHost = \"h\"\nPort = 70000\n");
        assertError(":2: [Heartbeat] Interval must be 100..60000, got 0", "[Heartbeat]\nInterval = 0\n");
        assertError(":2: [DB] MaxOpenConns must be 1..1000, got 0", "[DB]\nMaxOpenConns = 0\n");
    }

    @Test
    void wrongType_namesWhatIsExpectedAndWhatCame() throws IOException {
        assertError(":9: [RPC] Listen must be a string \"host:port\", got 20090", "\n".repeat(7) + "[RPC]\nListen = 20090\n");
        assertError(":2: [HTTP] Port must be an integer, got \"10090\"", "[HTTP]\nPort = \"10090\"\n");
        assertError(":2: [Log] Dir must be a string (a path), got true", "[Log]\nDir = true\n");
        assertError(":2: [Log] Output must be one of \"stdout\", \"stderr\", \"file\", got \"syslog\"", "[Log]\nOutput = \"syslog\"\n");
        assertError(":2: [Log] Level must be one of \"DEBUG\", \"INFO\", \"WARNING\", \"ERROR\", got \"info\"", "[Log]\nLevel = \"info\"\n");
    }

    @Test
    void unknownKeyOrSection_listsTheKnownOnes() throws IOException {
        assertError(":3: unknown key 'Prot' in [HTTP] (known: Host, Port, CertFile, KeyFile, MaxContentLength, AllowInsecure, MetricsAuth)", "[HTTP]\nPort = 1\nProt = 2\n");
        assertError(":1: unknown section [Htp] (known: Log, HTTP, BasicAuth, RPC, Limits, Heartbeat, Scheduler, DB, Gorm, MySQL)", "[Htp]\nPort = 1\n");
        assertError(":1: unknown top-level key 'Port' (known: none)", "Port = 1\n");
        assertError(":2: unknown key 'port' in [HTTP] (known: Host, Port, CertFile, KeyFile, MaxContentLength, AllowInsecure, MetricsAuth)", "[HTTP]\nport = 1\n");
    }

    @Test
    void badListen_saysWhy() throws IOException {
        assertError(":2: [RPC] Listen must be \"host:port\" (missing :port), got \"0.0.0.0\"", "[RPC]\nListen = \"0.0.0.0\"\n");
        assertError(":2: [RPC] Listen must be \"host:port\" (port 0..65535), got \"0.0.0.0:65536\"", "[RPC]\nListen = \"0.0.0.0:65536\"\n");
        assertError(":2: [RPC] Listen must be \"host:port\" (an IPv6 host goes in brackets, as [::1]:20090), got \"::1:20090\"",
                "[RPC]\nListen = \"::1:20090\"\n");
        assertError(":2: [RPC] Listen must be \"host:port\" (missing host; 0.0.0.0 listens on all addresses), got \":20090\"",
                "[RPC]\nListen = \":20090\"\n");
    }

    @Test
    void duplicateKey_andUnterminatedString_comeFromTheReader() throws IOException {
        assertError(":3: duplicate key 'Port' in [HTTP] (first on line 2)", "[HTTP]\nPort = 1\nPort = 2\n");
        assertError(":2: unterminated string: missing closing \"", "[HTTP]\nHost = \"127.0.0.1\n");
    }

    @Test
    void postgres_isRefused() throws IOException {
        assertError(":2: [DB] DBType \"postgres\" is not supported: this ibex stores tasks in h2 or mysql only",
                "[DB]\nDBType = \"postgres\"\n");
        assertError(":2: [DB] DBType must be one of \"h2\", \"mysql\", got \"oracle\"", "[DB]\nDBType = \"oracle\"\n");
    }

    @Test
    void mysqlErrors_neverShowThePassword() throws IOException {
        assertError(":3: [DB] DSN for mysql: unix sockets are not supported by the JDBC driver; use tcp(127.0.0.1:3306)",
                "[DB]\nDBType = \"mysql\"\nDSN = \"root:hunter2@unix(/tmp/mysql.sock)/ibex\"\n");
        assertError(":3: [DB] DSN for mysql: expected user:password@tcp(host:port)/dbname or a jdbc:mysql:// URL",
                "[DB]\nDBType = \"mysql\"\nDSN = \"root:hunter2@localhost\"\n");
        assertError(":3: [DB] DSN must be a string, got an integer", "[DB]\nDBType = \"mysql\"\nDSN = 1234\n");
        assertError(":2: [BasicAuth] ibex must be a string, got an integer", "[BasicAuth]\nibex = 1234\n");
        assertError(":1: [DB] DSN must be set when DBType is \"mysql\": user:password@tcp(host:port)/dbname"
                + " or jdbc:mysql://host:port/dbname (or give a [MySQL] section)", "[DB]\nDBType = \"mysql\"\n");
        var c = load("[DB]\nDBType = \"mysql\"\nDSN = \"root:hunter2@tcp(h:1)/ibex\"\n");
        assertFalse(c.toString().contains("hunter2"), c.toString());
        assertFalse(c.db().toString().contains("hunter2"));
    }

    @Test
    void httpsFiles_goTogether() throws IOException {
        assertError(":2: [HTTP] KeyFile is set but CertFile is not; HTTPS needs both", "[HTTP]\nKeyFile = \"k.pem\"\n");
        assertNull(load("[HTTP]\nCertFile = \"\"\nKeyFile = \"\"\n").http().certFile());
    }

    @Test
    void basicAuth_rejectsUnusableEntries() throws IOException {
        assertError(":2: [BasicAuth] a:b cannot be a user name: Basic auth splits user and password at ':'",
                "[BasicAuth]\n\"a:b\" = \"pw\"\n");
        assertError(":2: [BasicAuth] ibex needs a password, got \"\"", "[BasicAuth]\nibex = \"\"\n");
        assertTrue(load("[BasicAuth]\n").basicAuth().isEmpty());
    }

    @Test
    void heartbeatIp_mustBeAHostName() throws IOException {
        assertError(":2: [Heartbeat] IP is not a usable host name: host '10.0.0.1 x' has a character that is not allowed"
                + " in a host name", "[Heartbeat]\nIP = \"10.0.0.1 x\"\n");
    }

    @Test
    void missingFile_isAConfigException() {
        var e = assertThrows(ConfigException.class, () -> ServerConfig.load(dir.resolve("nope.conf")));
        assertEquals(dir.resolve("nope.conf") + ": cannot read: no such file", e.getMessage());
    }
}
