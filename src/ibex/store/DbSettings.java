package ibex.store;

import ibex.config.ServerConfig;

/**
 * What {@link Database#open} needs; the server maps its config's {@code Db} section onto this.
 *
 * @param type         "h2" (embedded file) or "mysql" (MySQL or MariaDB)
 * @param jdbcUrl      e.g. {@code jdbc:h2:file:/var/lib/ibex/ibex} or {@code jdbc:mysql://127.0.0.1:3306/ibex}
 * @param user         database user ("sa" is used for H2 when blank)
 * @param password     never appears in any message
 * @param maxOpenConns pool size, at least 1
 * @param display      how messages name the database, e.g. "mysql 127.0.0.1:3306/ibex";
 *                     derived from the URL when blank
 */
public record DbSettings(String type, String jdbcUrl, String user, String password, int maxOpenConns,
                         String display) {

    /** The config's {@code [DB]} section with a pool of {@code maxOpenConns} (1 for a one-off command). */
    public static DbSettings of(ServerConfig.Db d, int maxOpenConns) {
        return new DbSettings(d.type(), d.jdbcUrl(), d.user(), d.password(), maxOpenConns, d.display());
    }

    @Override
    public String toString() {
        // A record's default toString would print the password into any log line holding it.
        return "DbSettings[type=" + type + ", display=" + display + ", user=" + user
                + ", maxOpenConns=" + maxOpenConns + "]";
    }
}
