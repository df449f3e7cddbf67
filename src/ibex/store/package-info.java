/**
 * Every line of SQL in ibex: MySQL/MariaDB and embedded H2 ({@code MODE=MySQL}) through one JDBC
 * code path. Imports {@code ibex.core} and {@code ibex.config} only.
 *
 * <p>{@link ibex.store.Database} is the door: it opens our own small {@code ConnectionPool}, checks
 * (and for H2 on an empty file, creates) the schema of record {@code sql/ibex.sql}, which the build
 * copies in as the resource {@code /ibex/store/ibex.sql}, and runs work either in autocommit
 * ({@code read}) or in a transaction that is retried on deadlock and lock-wait timeout
 * ({@code inTransaction}), because InnoDB expects callers to retry those. The domain queries sit on
 * top of it in this package; nothing outside this package writes SQL.
 *
 * <p>On the embedded store, {@code EmbeddedUpkeep} keeps H2's file reusable and synced while the
 * server runs. It is the one class here that uses H2's engine rather than JDBC, and it is written
 * against the H2 version the Makefile pins.
 *
 * <p>The schema carries a version in {@code ibex_schema}; a server refuses to start on any other
 * version or on a database without the ibex tables, and it never creates tables in MySQL (an
 * operator runs {@code mysql < sql/ibex.sql}).
 */
package ibex.store;
