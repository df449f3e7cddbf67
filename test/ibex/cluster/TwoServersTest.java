package ibex.cluster;

import static ibex.cluster.Fleet.awaitDone;
import static ibex.cluster.Fleet.awaitHost;
import static ibex.cluster.Fleet.awaitTrue;
import static ibex.cluster.Fleet.create;
import static ibex.cluster.Fleet.status;
import static ibex.cluster.Fleet.task;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ibex.server.Server;
import ibex.store.TestDatabases;
import java.io.IOException;
import java.nio.file.Files;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Two servers on one MariaDB database (reference §4.5, issue 3 §6). Runs whenever MariaDB answers
 * at 127.0.0.1:3306; in CI (CI=true) it must answer. H2 is one process's file, so there is no H2 case.
 */
class TwoServersTest {

    @BeforeEach
    void needsMariadb() {
        if (!TestDatabases.mariadbAvailable()) {
            if ("true".equals(System.getenv("CI"))) {
                fail("CI=true but MariaDB at " + TestDatabases.MARIADB_HOST + " does not answer as root");
            }
            Assumptions.abort("MariaDB at " + TestDatabases.MARIADB_HOST + " does not answer; two-server tests need it");
        }
    }

    private static String name(Server s) {
        return "127.0.0.1:" + s.rpcAddress().getPort();
    }

    private static Optional<String> one(Fleet fleet, String sql, Object... args) {
        try (var c = fleet.jdbc(); var ps = c.prepareStatement(sql)) {
            for (int i = 0; i < args.length; i++) {
                ps.setObject(i + 1, args[i]);
            }
            try (var rs = ps.executeQuery()) {
                return rs.next() ? Optional.ofNullable(rs.getString(1)) : Optional.empty();
            }
        } catch (SQLException e) {
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aTaskCreatedThroughOneServer_startsWithinASecond_onAnAgentConnectedToTheOther() throws IOException {
        try (var fleet = Fleet.mariadb("")) {
            var a = fleet.server();
            var b = fleet.server();
            var host = "on-b";
            fleet.agent(host, b, a);
            fleet.awaitConnected(host);
            assertEquals(Optional.of(name(b)), one(fleet, "SELECT server FROM agent_host WHERE host = ?", host));
            // The server whose API takes a task owns it and starts its first batch in the creating
            // transaction, so A dispatches it and B learns it from the change log.
            var started = fleet.dir.resolve("started");
            long before = System.currentTimeMillis();
            long id = create(a, task("#!/bin/sh\ndate +%s%3N > " + started + "\necho ran\n", host));
            var done = awaitDone(a, id, Duration.ofSeconds(15));
            assertEquals("success", status(done, host));
            assertEquals("ran\n", Fleet.stdout(b, id, host), "B's API serves the same task");
            assertEquals(Optional.of(name(a)), one(fleet, "SELECT server FROM dispatch_log WHERE id = ? AND host = ? ORDER BY seq LIMIT 1", id, host));
            long took = Long.parseLong(Files.readString(started).strip()) - before;
            assertTrue(took < 1500, "started " + took + " ms after the request to A");
        }
    }

    @Test
    void aTaskForManyHosts_isLoggedAsOneRow_andStillReachesTheAgentOnTheOtherServer() throws IOException {
        try (var fleet = Fleet.mariadb("")) {
            var a = fleet.server();
            var b = fleet.server();
            var host = "wide-on-b";
            fleet.agent(host, b, a);
            fleet.awaitConnected(host);
            // 99 hosts without an agent and one with: 100 start at once, more than one change-log
            // row per host is worth, so the log holds one row standing for the whole task.
            var hosts = new java.util.ArrayList<String>();
            for (int i = 1; i < 100; i++) {
                hosts.add("wide-ghost-" + i);
            }
            hosts.add(host);
            long id = create(a, task("#!/bin/sh\necho wide\n", hosts.toArray(String[]::new)).set("tolerance", 100));
            awaitHost(a, id, host, "success", Duration.ofSeconds(15));
            assertEquals("wide\n", Fleet.stdout(b, id, host));
            assertEquals(Optional.of("1"), one(fleet, "SELECT count(*) FROM dispatch_log WHERE id = ?", id));
            assertEquals(Optional.of(""), one(fleet, "SELECT host FROM dispatch_log WHERE id = ?", id));
        }
    }

    @Test
    void theOwnerDyingMidTask_theOtherServerTakesItOver_andTheTaskFinishesWithEveryOutput() throws IOException {
        try (var fleet = Fleet.mariadb("")) {
            var a = fleet.server();
            var b = fleet.server();
            var hosts = List.of("fo-1", "fo-2", "fo-3");
            // Agents on both servers, so whichever dies, some agent has to move.
            fleet.agent(hosts.get(0), a, b);
            fleet.agent(hosts.get(1), b, a);
            fleet.agent(hosts.get(2), a, b);
            fleet.awaitConnected(hosts.toArray(String[]::new));
            String script = """
                    #!/bin/sh
                    h=$(basename "$(dirname "$(dirname "$0")")")
                    sleep 2
                    echo "done-${h#meta-}"
                    """;
            long id = create(a, task(script, hosts.toArray(String[]::new)).set("batch", 1));
            awaitHost(a, id, hosts.get(0), "running", Duration.ofSeconds(10));
            var owner = one(fleet, "SELECT scheduler FROM task_scheduler WHERE id = ?", id).orElseThrow();
            var dead = owner.equals(name(a)) ? a : b;
            var survivor = dead == a ? b : a;
            assertEquals(name(dead), owner);
            long killed = System.nanoTime();
            fleet.stop(dead);

            awaitTrue("the survivor owns the task", Duration.ofSeconds(15), () -> one(fleet,
                    "SELECT scheduler FROM task_scheduler WHERE id = ?", id).map(name(survivor)::equals).orElse(false)
                    || Fleet.get(survivor, id).get("meta").asObject().getBoolean("done", false));
            double takeover = (System.nanoTime() - killed) / 1e9;
            assertTrue(takeover <= 12.5, "taken over " + takeover + " s after the owner died (DEAD_AFTER 10 s + a tick)");

            var done = awaitDone(survivor, id, Duration.ofSeconds(25));
            for (var h : hosts) {
                assertEquals("success", status(done, h), done::toString);
                assertEquals("done-" + h + "\n", Fleet.stdout(survivor, id, h));
            }
            assertEquals("done", Fleet.state(survivor, id));
            assertTrue(Fleet.inDoneIds(survivor, id));
            for (var h : hosts) {
                assertEquals(Optional.of(name(survivor)), one(fleet, "SELECT server FROM agent_host WHERE host = ? AND connected = 1", h),
                        h + " is connected to the survivor");
            }
            double total = (System.nanoTime() - killed) / 1e9;
            assertTrue(total < 25, "finished " + total + " s after the owner died");
        }
    }
}
