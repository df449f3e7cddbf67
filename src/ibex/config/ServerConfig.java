package ibex.config;

import ibex.core.TaskLimits;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * {@code etc/server.conf}, read once and checked: the original's TOML keys, with the original's
 * sections and keys this ibex has no use for accepted and named in one warning.
 *
 * @param basicAuth user to password, in file order; empty means no user is set up
 * @param warnings  none, or lines to log at start (ignored keys of the original, dropped DSN parameters)
 */
public record ServerConfig(Path file, LogConfig log, Http http, Map<String, String> basicAuth, Rpc rpc,
                           Heartbeat heartbeat, Db db, Scheduler scheduler, TaskLimits limits, List<String> warnings) {

    /** The keys this ibex reads; [Gorm] and [MySQL] are the v1.2.0 layout of the database settings. */
    static final Map<String, List<String>> KEYS = Bind.table(
            Map.entry("", List.of()),
            Map.entry("Log", LogConfig.KEYS),
            Map.entry("HTTP", List.of("Host", "Port", "CertFile", "KeyFile", "MaxContentLength", "AllowInsecure", "MetricsAuth")),
            Map.entry("BasicAuth", Bind.ANY_KEY),
            Map.entry("RPC", List.of("Listen", "Token", "CertFile", "KeyFile", "MaxConnections")),
            Map.entry("Limits", List.of("MaxHosts", "MaxScriptBytes", "MaxArgsBytes", "MaxStdinBytes")),
            Map.entry("Heartbeat", List.of("IP", "Interval")),
            Map.entry("Scheduler", List.of("NoAgentGrace", "Backstop", "RetentionDays")),
            Map.entry("DB", List.of("DBType", "DSN", "MaxOpenConns")),
            Map.entry("Gorm", List.of("DBType", "MaxOpenConns")),
            Map.entry("MySQL", List.of("Address", "Host", "Port", "User", "Password", "DBName", "Parameters")));

    /** The original's keys that this ibex accepts and ignores; a set of "*" is a whole section. */
    static final Map<String, Set<String>> ORIGINAL_ONLY = Map.of(
            "", Set.of("RunMode"),
            "Log", Set.of("KeepHours", "RotateNum", "RotateSize"),
            "HTTP", Set.of("Enable", "PrintAccessLog", "PProf", "ShutdownTimeout",
                    "ReadTimeout", "WriteTimeout", "IdleTimeout"),
            "DB", Set.of("Debug", "MaxLifetime", "MaxIdleConns", "TablePrefix"),
            "Output", Bind.WHOLE_SECTION,
            "Redis", Bind.WHOLE_SECTION,
            "CenterApi", Bind.WHOLE_SECTION,
            "Gorm", Set.of("Debug", "MaxLifetime", "MaxIdleConns", "TablePrefix"),
            "Postgres", Bind.WHOLE_SECTION);

    public ServerConfig {
        basicAuth = Collections.unmodifiableMap(new LinkedHashMap<>(basicAuth));
        warnings = List.copyOf(warnings);
    }

    /**
     * Reads and checks {@code file}; an empty file gives every default.
     *
     * @throws ConfigException naming file, line, key and what is expected
     */
    public static ServerConfig load(Path file) {
        return from(file, Toml.read(file));
    }

    static ServerConfig from(Path file, Toml.Doc doc) {
        var bind = new Bind(doc, KEYS, ORIGINAL_ONLY);
        bind.section("");
        var log = LogConfig.from(bind.section("Log"));
        var http = Http.from(bind.section("HTTP"));
        var auth = basicAuth(bind.section("BasicAuth"));
        var rpc = Rpc.from(bind.section("RPC"));
        var heartbeat = Heartbeat.from(bind.section("Heartbeat"));
        var dbWarnings = new ArrayList<String>();
        var db = Db.from(bind, dbWarnings);
        var scheduler = Scheduler.from(bind.section("Scheduler"));
        var limits = limits(bind.section("Limits"));
        checkExposure(bind.section("HTTP"), http, auth);
        var warnings = new ArrayList<>(bind.warnings());
        warnings.addAll(dbWarnings);
        return new ServerConfig(file, log, http, auth, rpc, heartbeat, db, scheduler, limits, warnings);
    }

    /**
     * @param certFile    with keyFile, serve HTTPS; both null for plain HTTP
     * @param port        0 takes any free port (tests)
     * @param metricsAuth /metrics asks for [BasicAuth] like /ibex/v1 (false: open to a scraper that
     *                    cannot send credentials; it shows counts, never a script, output or secret)
     */
    public record Http(String host, int port, Path certFile, Path keyFile, int maxBodyBytes, boolean allowInsecure,
                       boolean metricsAuth) {
        static Http from(Bind.Section s) {
            String host = s.string("Host", "127.0.0.1");
            if (host.isEmpty()) {
                throw s.error("Host", "must not be empty (127.0.0.1: this machine only; 0.0.0.0: every address)");
            }
            var http = new Http(host, s.integer("Port", 10090, 0, 65535), s.path("CertFile", null), s.path("KeyFile", null),
                    s.integer("MaxContentLength", 4 * 1024 * 1024, 1024, 1024 * 1024 * 1024), s.bool("AllowInsecure", false),
                    s.bool("MetricsAuth", true));
            pair(s, http.certFile, http.keyFile, "HTTPS");
            return http;
        }
    }

    /** Both of CertFile/KeyFile or neither. */
    private static void pair(Bind.Section s, Path cert, Path key, String what) {
        if ((cert == null) != (key == null)) {
            String set = cert != null ? "CertFile" : "KeyFile";
            String unset = cert != null ? "KeyFile" : "CertFile";
            throw s.error(set, "is set but " + unset + " is not; " + what + " needs both");
        }
    }

    /**
     * The API runs scripts as root on every host: on an address other machines reach, it must not
     * be open or guarded by the sample password, unless [HTTP] AllowInsecure says so on purpose.
     */
    private static void checkExposure(Bind.Section s, Http http, Map<String, String> auth) {
        if (http.allowInsecure() || isLoopback(http.host())) {
            return;
        }
        if (auth.isEmpty()) {
            throw s.error("Host", "is \"" + http.host() + "\", reachable from other machines, but [BasicAuth] has no account: "
                    + "anyone could run scripts as root on every host. Add an account under [BasicAuth] (user = \"long-random-password\"), "
                    + "or set Host = \"127.0.0.1\", or set AllowInsecure = true in [HTTP] if you really mean it");
        }
        if ("ibex".equals(auth.get("ibex"))) {
            throw s.error("Host", "is \"" + http.host() + "\", reachable from other machines, but [BasicAuth] still has the sample "
                    + "account ibex = \"ibex\": change its password, or set AllowInsecure = true in [HTTP] if you really mean it");
        }
    }

    static boolean isLoopback(String host) {
        if (host.equals("localhost")) {
            return true;
        }
        if (host.matches("[0-9.]+") || host.contains(":")) {
            try {
                return java.net.InetAddress.getByName(host).isLoopbackAddress();
            } catch (java.net.UnknownHostException e) {
                return false;
            }
        }
        return false;
    }

    /**
     * Where agents connect: {@code [RPC] Listen}; port 0 takes any free port (tests).
     *
     * @param token          the shared secret agents prove they know (HMAC of a nonce); null = none
     * @param certFile       with keyFile, TLS on the agent port
     * @param maxConnections agent connections held at once; 0 = the open-file limit less a reserve
     */
    public record Rpc(String host, int port, String token, Path certFile, Path keyFile, int maxConnections) {
        static Rpc from(Bind.Section s) {
            var listen = s.hostPort("Listen", "0.0.0.0:20090", 0);
            var token = s.secret("Token", "");
            if (!token.isEmpty() && token.length() < 16) {
                throw s.error("Token", "must be at least 16 characters (a long random string), got " + token.length());
            }
            var rpc = new Rpc(listen.host(), listen.port(), token.isEmpty() ? null : token, s.path("CertFile", null), s.path("KeyFile", null),
                    s.integer("MaxConnections", 0, 0, 1_000_000));
            pair(s, rpc.certFile, rpc.keyFile, "TLS");
            return rpc;
        }

        @Override
        public String toString() {
            return "Rpc[" + host + ":" + port + (token == null ? "" : ", token set") + (certFile == null ? "" : ", tls")
                    + (maxConnections == 0 ? "" : ", maxConnections=" + maxConnections) + "]";
        }
    }

    private static TaskLimits limits(Bind.Section s) {
        var d = TaskLimits.DEFAULT;
        return new TaskLimits(s.integer("MaxHosts", d.maxHosts(), 1, 1_000_000),
                s.integer("MaxScriptBytes", d.maxScriptBytes(), 1024, 16 * 1024 * 1024),
                s.integer("MaxArgsBytes", d.maxArgsBytes(), 1024, 16 * 1024 * 1024),
                s.integer("MaxStdinBytes", d.maxStdinBytes(), 1024, 16 * 1024 * 1024));
    }

    /**
     * @param ip         the host part of this scheduler's identity ({@code ip:rpcPort}); "" = find it out
     *                   at start, which is the server's job (and never by dialling 8.8.8.8)
     * @param intervalMs how often the scheduler proves it is alive
     */
    public record Heartbeat(String ip, int intervalMs) {
        static Heartbeat from(Bind.Section s) {
            String ip = s.string("IP", "");
            if (!ip.isEmpty()) {
                s.checkHost("IP", ip);
            }
            return new Heartbeat(ip, s.integer("Interval", 1000, 100, 60000));
        }
    }

    /**
     * @param noAgentGraceSeconds how long a host's run waits for its agent to be connected before
     *                            the host fails (instead of waiting for the task timeout)
     * @param backstopSeconds     how long past its timeout a run may stay silent before the server
     *                            marks it timeout (the agent enforces timeouts; this covers a vanished agent)
     * @param retentionDays       finished tasks older than this are deleted; 0 keeps them forever
     */
    public record Scheduler(int noAgentGraceSeconds, int backstopSeconds, int retentionDays) {
        static Scheduler from(Bind.Section s) {
            return new Scheduler(s.integer("NoAgentGrace", 10, 1, 3600), s.integer("Backstop", 15, 5, 3600),
                    s.integer("RetentionDays", 30, 0, 36500));
        }
    }

    private static Map<String, String> basicAuth(Bind.Section s) {
        var users = s.secrets();
        for (var e : users.entrySet()) {
            if (e.getKey().indexOf(':') >= 0) {
                throw s.error(e.getKey(), "cannot be a user name: Basic auth splits user and password at ':'");
            }
            if (e.getValue().isEmpty()) {
                throw s.error(e.getKey(), "needs a password, got \"\"");
            }
        }
        return users;
    }

    /**
     * The task store.
     *
     * @param type         "h2" (embedded file) or "mysql" (MySQL or MariaDB)
     * @param jdbcUrl      without user or password
     * @param user         "" for h2
     * @param password     never in a message or {@link #toString}
     * @param maxOpenConns pool size
     * @param display      how logs name it, without secrets: {@code mysql 127.0.0.1:3306/ibex}, {@code h2 /abs/data/ibex}
     */
    public record Db(String type, String jdbcUrl, String user, String password, int maxOpenConns, String display) {
        static final List<String> TYPES = List.of("h2", "mysql");
        /** Agreed with ibex.store: MySQL dialect and names, and the server (not H2's hook) closes the file. */
        static final String H2_OPTIONS = ";MODE=MySQL;DATABASE_TO_LOWER=TRUE;LOCK_TIMEOUT=10000;DB_CLOSE_ON_EXIT=FALSE";

        static Db from(Bind bind, List<String> warnings) {
            var db = bind.section("DB");
            // v1.2.0 keeps DBType and MaxOpenConns in [Gorm]; honour them there when there is no [DB],
            // or a v1.2.0 file that says mysql would quietly start on an empty h2 file.
            boolean gorm = !bind.present("DB") && bind.present("Gorm");
            var kind = gorm ? bind.section("Gorm") : db;
            if (!gorm && bind.present("Gorm")) {
                bind.unused("Gorm");
            }
            String type = kind.string("DBType", "h2").toLowerCase(Locale.ROOT);
            if (type.startsWith("postgres")) {
                throw kind.error("DBType", "\"" + type + "\" is not supported: this ibex stores tasks in h2 or mysql only");
            }
            if (!TYPES.contains(type)) {
                throw kind.error("DBType", "must be one of \"h2\", \"mysql\", got " + new TomlValue.Str(type).show());
            }
            int pool = kind.integer("MaxOpenConns", 16, 1, 1000);
            String dsn = db.secret("DSN", "");
            if (type.equals("h2")) {
                unusedMysql(bind);
                return h2(db, dsn.isEmpty() ? "data/ibex" : dsn, pool);
            }
            MysqlDsn m;
            if (!dsn.isEmpty()) {
                unusedMysql(bind);
                try {
                    m = MysqlDsn.parse(dsn);
                } catch (IllegalArgumentException e) {
                    throw db.error("DSN", "for mysql: " + e.getMessage());
                }
            } else if (bind.present("MySQL")) {
                m = v120(bind.section("MySQL"));
            } else {
                throw db.error("DSN", "must be set when DBType is \"mysql\": user:password@tcp(host:port)/dbname"
                        + " or jdbc:mysql://host:port/dbname (or give a [MySQL] section)");
            }
            if (!m.dropped().isEmpty()) {
                warnings.add(ConfigException.at(bind.file(), db.line("DSN"), "[DB] DSN: not passing on parameters"
                        + " the JDBC driver does not take: " + String.join(", ", m.dropped())).getMessage());
            }
            return new Db(type, m.jdbcUrl(), m.user(), m.password(), pool, m.display());
        }

        private static Db h2(Bind.Section db, String dsn, int pool) {
            // An original ibex file names its MySQL DSN but not DBType (its default was mysql):
            // taken as a path it would make an H2 file named after the password, and log it.
            if (dsn.contains("@tcp(") || dsn.contains("@unix(") || dsn.startsWith("jdbc:mysql:")) {
                throw db.error("DSN", "looks like a MySQL DSN, but DBType is h2 (the default): set DBType = \"mysql\" in [DB]");
            }
            if (dsn.startsWith("jdbc:")) {
                if (!dsn.startsWith("jdbc:h2:")) {
                    throw db.error("DSN", "for h2 must be a file path or a jdbc:h2: URL");
                }
                return new Db("h2", dsn, "", "", pool, "h2 " + dsn.substring(8).split(";", 2)[0]);
            }
            if (dsn.indexOf(';') >= 0) {
                throw db.error("DSN", "for h2 is a file path and must not contain ';', got " + new TomlValue.Str(dsn).show());
            }
            // H2 adds ".mv.db" itself; people often name the file they see.
            String name = dsn.endsWith(".mv.db") ? dsn.substring(0, dsn.length() - 6) : dsn;
            Path file;
            try {
                file = Path.of(name).toAbsolutePath().normalize();
            } catch (InvalidPathException e) {
                throw db.error("DSN", "for h2 is not a usable path: " + e.getReason());
            }
            return new Db("h2", "jdbc:h2:file:" + file + H2_OPTIONS, "", "", pool, "h2 " + file);
        }

        /** ibex v1.2.0: [MySQL] Address (or Host and Port), User, Password, DBName, Parameters. */
        private static MysqlDsn v120(Bind.Section my) {
            String address = my.string("Address", "");
            String host = my.string("Host", "");
            int port = my.integer("Port", 3306, 1, 65535);
            if (!address.isEmpty() && (my.has("Host") || my.has("Port"))) {
                throw my.error("Address", "and Host/Port are both set; keep one");
            }
            if (address.isEmpty()) {
                address = new HostPort(host.isEmpty() ? "127.0.0.1" : host, port).toString();
            }
            try {
                return MysqlDsn.of(address, my.string("User", "root"), my.secret("Password", ""),
                        my.string("DBName", "ibex"), my.string("Parameters", ""));
            } catch (IllegalArgumentException e) {
                throw my.error("Address", "and the keys with it do not make a connection: " + e.getMessage());
            }
        }

        private static void unusedMysql(Bind bind) {
            if (bind.present("MySQL")) {
                bind.unused("MySQL");
            }
        }

        @Override
        public String toString() {
            // The default would print the password into any log line holding this record.
            return "Db[" + display + ", user=" + user + ", maxOpenConns=" + maxOpenConns + "]";
        }
    }

    @Override
    public String toString() {
        return "ServerConfig[file=" + file + ", log=" + log + ", http=" + http + ", basicAuth users="
                + basicAuth.keySet() + ", rpc=" + rpc + ", heartbeat=" + heartbeat + ", db=" + db + "]";
    }
}
