/**
 * ibex: a small remote-execution channel for alert self-healing.
 *
 * <p>One module, two roles ({@code ibex server}, {@code ibex agentd}); packages by role, imports one
 * way (see each package-info and {@code src/build/check-deps.sh}). The JDBC drivers are not required
 * here: {@link java.sql.DriverManager} finds them as services in the runtime image.
 */
module ibex {
    requires java.sql;
    requires jdk.httpserver;
    requires minimal.json;
}
