package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.sql.DriverManager;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A result the server could not store (no ack) is sent again on the same connection, once its
 * ack is overdue, not with every heartbeat; and then it is stored.
 */
class ResendTest {
    @Test
    void resultTheServerCouldNotStore_isSentAgainAfterItsAckIsOverdue_andStored() throws Exception {
        try (var h = new Harness()) {
            h.agent("resend-1", "");
            // The server's own database, joined in this JVM: a constraint makes its UPDATE of a result fail.
            try (var db = DriverManager.getConnection("jdbc:h2:" + h.dir.resolve("data/ibex"), "sa", "");
                 var sql = db.createStatement()) {
                sql.execute("ALTER TABLE task_host ADD CONSTRAINT test_no_success CHECK (status <> 'success')");
                long id = h.task("#!/bin/sh\necho done\n", "root", 0, "resend-1");
                Harness.awaitTrue(Duration.ofSeconds(20), "the result to be reported", () -> h.metric("ibex_reports_total") >= 1);
                // Ten heartbeats (200 ms) go by: none carries the result again.
                Thread.sleep(2000);
                assertEquals(1, h.metric("ibex_reports_total"), "reports while the first has no ack");
                assertEquals(0, h.metric("ibex_results_stored_total"));
                assertEquals("running", h.output(id, "resend-1").getString("status", ""));
                sql.execute("ALTER TABLE task_host DROP CONSTRAINT test_no_success");
                var end = h.awaitEnd(id, "resend-1", Duration.ofSeconds(20));
                assertEquals("success", end.getString("status", ""), end::toString);
                assertEquals("done\n", end.getString("stdout", ""));
                assertEquals(2, h.metric("ibex_reports_total"), "sent again once, after 5 s without an ack");
                assertEquals(1, h.metric("ibex_results_stored_total"));
            }
        }
    }
}
