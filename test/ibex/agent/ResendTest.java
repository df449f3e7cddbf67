package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A result on its way is not sent again however slow the server's store is; one the store
 * refused goes again with the next heartbeat, until it is stored. The server's own database is
 * joined in this JVM to hold a row lock (a slow store) or add a constraint (a refusing one).
 */
class ResendTest {
    private static Connection join(Harness h) throws SQLException {
        return DriverManager.getConnection("jdbc:h2:" + h.dir.resolve("data/ibex"), "sa", "");
    }

    @Test
    void resultWhoseWriteWaits_isNotSentAgain_andIsStoredOnce() throws Exception {
        try (var h = new Harness(); var db = join(h)) {
            h.agent("resend-1", "");
            var started = h.dir.resolve("started");
            var gate = h.dir.resolve("gate");
            long id = h.task("#!/bin/sh\ntouch " + started + "\nwhile [ ! -e " + gate + " ]; do sleep 0.05; done\necho done\n",
                    "root", 0, "resend-1");
            Harness.awaitTrue(Duration.ofSeconds(20), "the script to start", () -> Files.exists(started));
            db.setAutoCommit(false);
            try (var lock = db.prepareStatement("SELECT status FROM task_host WHERE id = ? FOR UPDATE")) {
                lock.setLong(1, id);
                lock.executeQuery().close();
            }
            Files.createFile(gate);
            Harness.awaitTrue(Duration.ofSeconds(20), "the result to be reported", () -> h.metric("ibex_reports_total") >= 1);
            // 3 s of heartbeats (every 200 ms) while the server's write waits for the row (its lock timeout is 10 s).
            Thread.sleep(3000);
            assertEquals(1, h.metric("ibex_reports_total"), "reports while the first one's write waits");
            db.commit();
            var end = h.awaitEnd(id, "resend-1", Duration.ofSeconds(20));
            assertEquals("success", end.getString("status", ""), end::toString);
            assertEquals("done\n", end.getString("stdout", ""));
            Harness.awaitTrue(Duration.ofSeconds(10), "the stored result to be counted", () -> h.metric("ibex_results_stored_total") == 1);
            assertEquals(1, h.metric("ibex_reports_total"), "reports for one result");
        }
    }

    @Test
    void resultTheStoreRefused_goesAgainWithTheNextHeartbeats_andIsStoredOnceItIsTaken() throws Exception {
        try (var h = new Harness(); var db = join(h); var sql = db.createStatement()) {
            h.agent("resend-2", "");
            sql.execute("ALTER TABLE task_host ADD CONSTRAINT test_no_success CHECK (status <> 'success')");
            long id = h.task("#!/bin/sh\necho done\n", "root", 0, "resend-2");
            Harness.awaitTrue(Duration.ofSeconds(20), "the result to be sent three times", () -> h.metric("ibex_reports_total") >= 3);
            assertEquals(0, h.metric("ibex_results_stored_total"));
            assertEquals("running", h.output(id, "resend-2").getString("status", ""));
            sql.execute("ALTER TABLE task_host DROP CONSTRAINT test_no_success");
            var end = h.awaitEnd(id, "resend-2", Duration.ofSeconds(20));
            assertEquals("success", end.getString("status", ""), end::toString);
            assertEquals("done\n", end.getString("stdout", ""));
            Harness.awaitTrue(Duration.ofSeconds(10), "the stored result to be counted", () -> h.metric("ibex_results_stored_total") == 1);
        }
    }

    /** A result whose data the store refuses (a constraint here) holds back no other result sent with it. */
    @Test
    void resultTheStoreRefusesForItsData_holdsBackNoOtherSentWithIt() throws Exception {
        try (var h = new Harness(); var db = join(h); var sql = db.createStatement()) {
            h.agent("resend-3", "");
            sql.execute("ALTER TABLE task_host ADD CONSTRAINT test_no_success CHECK (status <> 'success')");
            long poison = h.task("#!/bin/sh\necho poison\n", "root", 0, "resend-3");
            long fine = h.task("#!/bin/sh\necho fine\n", "root", 0, "resend-3");
            // Both refused, each at least twice: after a refusal they are due together, in one heartbeat.
            Harness.awaitTrue(Duration.ofSeconds(20), "both results to be refused twice", () -> h.metric("ibex_reports_total") >= 4);
            sql.execute("ALTER TABLE task_host ADD CONSTRAINT test_no_poison CHECK (status <> 'success' OR stdout NOT LIKE 'poison%')");
            sql.execute("ALTER TABLE task_host DROP CONSTRAINT test_no_success");
            var end = h.awaitEnd(fine, "resend-3", Duration.ofSeconds(20));
            assertEquals("success", end.getString("status", ""), end::toString);
            assertEquals("fine\n", end.getString("stdout", ""));
            assertEquals("running", h.output(poison, "resend-3").getString("status", ""));
            sql.execute("ALTER TABLE task_host DROP CONSTRAINT test_no_poison");
            end = h.awaitEnd(poison, "resend-3", Duration.ofSeconds(20));
            assertEquals("success", end.getString("status", ""), end::toString);
            assertEquals("poison\n", end.getString("stdout", ""));
        }
    }
}
