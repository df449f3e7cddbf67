package ibex.config;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * MySQL connection settings from the original's forms: a Go driver DSN
 * ({@code user:pass@tcp(host:port)/db?charset=utf8mb4&parseTime=True}), the v1.2.0 [MySQL] section's
 * parts, or a {@code jdbc:mysql://} URL. The result's URL never holds the user or password, and no
 * message here repeats the input, which may hold the password.
 *
 * @param dropped parameters that are neither the Go driver's own nor mapped: the Go driver would
 *                have sent them as session variables; Connector/J is not told (the loader warns)
 */
record MysqlDsn(String jdbcUrl, String user, String password, String display, List<String> dropped) {
    private static final String JDBC = "jdbc:mysql://";

    /** Options of the Go driver that mean nothing to Connector/J (charset and tls are mapped instead). */
    private static final Set<String> GO_ONLY = Set.of("parseTime", "loc", "allowNativePasswords", "timeout",
            "readTimeout", "writeTimeout", "collation", "clientFoundRows", "columnsWithAlias", "interpolateParams",
            "multiStatements", "rejectReadOnly", "maxAllowedPacket", "allowAllFiles", "allowCleartextPasswords",
            "allowOldPasswords", "allowFallbackToPlaintext", "checkConnLiveness", "serverPubKey", "connectionAttributes");

    /** @throws IllegalArgumentException saying what is wrong, never quoting the DSN */
    static MysqlDsn parse(String dsn) {
        return dsn.startsWith("jdbc:") ? jdbc(dsn) : go(dsn);
    }

    /**
     * The Go driver's grammar {@code [user[:password]@][net[(addr)]]/dbname[?params]}, split the way it
     * splits: at the last '/', then the last '@' before it, then the first ':' of the user part. So a
     * password may hold ':' and '@', and a DSN that worked with the original means the same here.
     */
    private static MysqlDsn go(String dsn) {
        int slash = dsn.lastIndexOf('/');
        if (slash < 0) {
            throw new IllegalArgumentException("expected user:password@tcp(host:port)/dbname or a jdbc:mysql:// URL");
        }
        String left = dsn.substring(0, slash);
        String right = dsn.substring(slash + 1);
        int at = left.lastIndexOf('@');
        String user = "";
        String password = "";
        if (at >= 0) {
            String info = left.substring(0, at);
            int colon = info.indexOf(':');
            user = colon < 0 ? info : info.substring(0, colon);
            password = colon < 0 ? "" : info.substring(colon + 1);
        }
        String net = left.substring(at + 1);
        String address;
        if (net.isEmpty() || net.equals("tcp") || net.equals("tcp()")) {
            address = "127.0.0.1:3306";
        } else if (net.startsWith("tcp(") && net.endsWith(")")) {
            address = net.substring(4, net.length() - 1);
        } else if (net.startsWith("unix")) {
            throw new IllegalArgumentException("unix sockets are not supported by the JDBC driver; use tcp(127.0.0.1:3306)");
        } else {
            throw new IllegalArgumentException("expected tcp(host:port) between '@' and '/dbname'");
        }
        int q = right.indexOf('?');
        return of(address, user, password, q < 0 ? right : right.substring(0, q), q < 0 ? "" : right.substring(q + 1));
    }

    /** The parts of a Go DSN, as the v1.2.0 [MySQL] section gives them; Go's rule: no port means 3306. */
    static MysqlDsn of(String address, String user, String password, String db, String params) {
        if (address.indexOf(':') < 0 || address.endsWith("]")) {
            address += ":3306";
        }
        HostPort hp;
        try {
            hp = HostPort.parse(address, 1);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("the database address must be host:port (" + e.getMessage() + ")");
        }
        if (db.isEmpty()) {
            throw new IllegalArgumentException("missing the database name");
        }
        checkName(db);
        var jdbcParams = new ArrayList<String>();
        var dropped = new ArrayList<String>();
        for (String p : params.split("&")) {
            int eq = p.indexOf('=');
            String key = eq < 0 ? p : p.substring(0, eq);
            String value = eq < 0 ? "" : decode(p.substring(eq + 1), "parameter " + key);
            switch (key) {
                case "" -> { }
                case "charset" -> {
                    // Go takes a list and uses the first the server knows; Connector/J wants a Java name.
                    String first = value.split(",")[0];
                    if (first.equals("utf8mb4") || first.equals("utf8")) {
                        jdbcParams.add("characterEncoding=UTF-8");
                    } else {
                        dropped.add(key);
                    }
                }
                case "tls" -> jdbcParams.add("sslMode=" + switch (value) {
                    case "true" -> "VERIFY_IDENTITY";
                    case "skip-verify" -> "REQUIRED";
                    case "preferred" -> "PREFERRED";
                    case "false" -> "DISABLED";
                    default -> throw new IllegalArgumentException("tls must be true, false, skip-verify or preferred");
                });
                default -> {
                    if (!GO_ONLY.contains(key)) {
                        dropped.add(key);
                    }
                }
            }
        }
        String where = hp + "/" + db;
        return new MysqlDsn(JDBC + where + (jdbcParams.isEmpty() ? "" : "?" + String.join("&", jdbcParams)),
                user, password, "mysql " + where, List.copyOf(dropped));
    }

    /** A Connector/J URL; credentials from {@code user:pass@} or the user= / password= parameters move out of it. */
    private static MysqlDsn jdbc(String url) {
        if (!url.startsWith(JDBC)) {
            throw new IllegalArgumentException("a JDBC URL for mysql must start with jdbc:mysql://");
        }
        String rest = url.substring(JDBC.length());
        int q = rest.indexOf('?');
        String query = q < 0 ? "" : rest.substring(q + 1);
        rest = q < 0 ? rest : rest.substring(0, q);
        int slash = rest.indexOf('/');
        String authority = slash < 0 ? rest : rest.substring(0, slash);
        String db = slash < 0 ? "" : rest.substring(slash + 1);
        String user = "";
        String password = "";
        int at = authority.lastIndexOf('@');
        if (at >= 0) {
            String info = authority.substring(0, at);
            int colon = info.indexOf(':');
            user = decodeUrl(colon < 0 ? info : info.substring(0, colon), "user");
            password = colon < 0 ? "" : decodeUrl(info.substring(colon + 1), "password");
            authority = authority.substring(at + 1);
        }
        var kept = new ArrayList<String>();
        for (String p : query.split("&")) {
            if (p.startsWith("user=")) {
                user = decodeUrl(p.substring(5), "user");
            } else if (p.startsWith("password=")) {
                password = decodeUrl(p.substring(9), "password");
            } else if (!p.isEmpty()) {
                kept.add(p);
            }
        }
        if (authority.isEmpty() || db.isEmpty()) {
            throw new IllegalArgumentException("expected jdbc:mysql://host:port/dbname");
        }
        checkName(db);
        String where = authority + "/" + db;
        return new MysqlDsn(JDBC + where + (kept.isEmpty() ? "" : "?" + String.join("&", kept)), user, password,
                "mysql " + where, List.of());
    }

    private static void checkName(String db) {
        for (int i = 0; i < db.length(); i++) {
            char c = db.charAt(i);
            if (c <= ' ' || c == 0x7f || "/?#&;\"'\\".indexOf(c) >= 0) {
                throw new IllegalArgumentException("the database name has a character that is not allowed");
            }
        }
    }

    private static String decode(String s, String what) {
        try {
            return URLDecoder.decode(s, StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(what + " is not valid %-encoding");
        }
    }

    /** Connector/J decodes %XX in its URLs but keeps '+' (unlike a form query, where it means a space). */
    private static String decodeUrl(String s, String what) {
        return decode(s.replace("+", "%2B"), what);
    }

    @Override
    public String toString() {
        return "MysqlDsn[" + display + ", user=" + user + "]";
    }
}
