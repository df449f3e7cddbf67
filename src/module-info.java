/**
 * ibex: a small remote-execution channel for alert self-healing.
 *
 * <p>One module, two roles ({@code ibex server}, {@code ibex agentd}); packages by role, imports one
 * way (see each package-info and {@code src/build/check-deps.sh}). {@link java.sql.DriverManager}
 * finds the JDBC drivers as services in the runtime image; H2 is also required by name because
 * the store keeps up its file through H2's own store API (store.EmbeddedUpkeep).
 */
module ibex {
    requires java.sql;
    requires jdk.httpserver;
    requires minimal.json;
    requires com.h2database;
}
