package ibex.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * GET /metrics against a real server on H2 with a real agent (m-1): the counters move when a task
 * runs, is killed, times out; the gauges show unfinished work; a bad frame is counted.
 */
class MetricsTest {
    static TestServer s;

    @BeforeAll
    static void start() throws IOException {
        s = TestServer.start(TestServer.Backend.H2);
        s.agent("m-1");
    }

    @AfterAll
    static void stop() {
        if (s != null) {
            s.close();
        }
    }

    /** One scrape: "name" or "name{label=\"v\"}" → value. */
    static Map<String, Double> scrape() {
        var r = s.get("/metrics");
        assertEquals(200, r.status(), r::toString);
        return Scrape.samples(r.body());
    }

    static double value(Map<String, Double> m, String name) {
        return m.getOrDefault(name, 0.0);
    }

    /** Scrapes until the metric reaches at least {@code atLeast} (10 s at most); returns that scrape. */
    static Map<String, Double> awaitAtLeast(String name, double atLeast) {
        long deadline = System.nanoTime() + 10_000_000_000L;
        Map<String, Double> m;
        do {
            m = scrape();
            if (value(m, name) >= atLeast) {
                return m;
            }
            TestServer.sleep(50);
        } while (System.nanoTime() < deadline);
        throw new AssertionError(name + " stayed below " + atLeast + ": " + value(m, name));
    }

    @Test
    void metrics_withoutOrWithWrongCredentials_is401() {
        assertEquals(401, s.send("GET", "/metrics", null, null).status());
        assertEquals(401, s.send("GET", "/metrics", null, TestServer.basic("ibex", "wrong")).status());
    }

    @Test
    void metrics_isPrometheusText_withHelpAndTypeForEveryFamily() {
        var body = s.get("/metrics").body();
        for (var family : new String[] {"ibex_heartbeats_total counter", "ibex_dispatch_latency_seconds histogram",
                "ibex_agents_connected gauge", "ibex_db_errors_total counter", "ibex_task_hosts gauge"}) {
            assertTrue(body.contains("# TYPE " + family + "\n"), family + " in\n" + body);
        }
        assertTrue(body.contains("ibex_dispatch_latency_seconds_bucket{le=\"+Inf\"} "), body);
        assertTrue(body.contains("ibex_dispatch_latency_seconds_bucket{le=\"0.001\"} "), body);
    }

    @Test
    void aTaskThatRuns_movesHeartbeatsReportsResultsOutputAndDispatch() {
        var before = awaitAtLeast("ibex_agents_connected", 1);
        long id = s.create(TestServer.task("m-1").set("action", "start").set("script", "#!/bin/sh\nprintf 'hello'\n"));
        s.awaitDone(id);
        var after = awaitAtLeast("ibex_results_stored_total", value(before, "ibex_results_stored_total") + 1);
        assertTrue(value(after, "ibex_heartbeats_total") > value(before, "ibex_heartbeats_total"), "heartbeats");
        assertTrue(value(after, "ibex_reports_total") >= value(before, "ibex_reports_total") + 1, "reports");
        assertTrue(value(after, "ibex_output_bytes_stored_total") >= value(before, "ibex_output_bytes_stored_total") + 5,
                "5 bytes of 'hello' stored");
        assertTrue(value(after, "ibex_dispatch_latency_seconds_count") >= value(before, "ibex_dispatch_latency_seconds_count") + 1,
                "dispatch observed");
        assertTrue(value(after, "ibex_dispatch_latency_seconds_sum") < 60, "dispatch sum in seconds, not ms");
        assertTrue(value(after, "ibex_heartbeat_handling_seconds_count") > 0, "heartbeat handling observed");
        assertTrue(value(after, "ibex_pushes_total") >= 1, "the start was pushed");
        assertEquals(0.0, value(after, "ibex_db_errors_total"));
        assertTrue(value(after, "ibex_db_pool_max") >= 1, "pool size");
        // The file may grow between reads (the server's clock row commits every second): bracket the gauge.
        Path file = s.dir.resolve("data/ibex.mv.db");
        long low = fileSize(file);
        var m = scrape();
        long high = fileSize(file);
        double gauge = value(m, "ibex_db_file_bytes");
        assertTrue(low <= gauge && gauge <= high, low + " <= " + gauge + " <= " + high);
        assertTrue(m.containsKey("ibex_db_file_rewrites_total"), "the upkeep's passes are counted");
        awaitAtLeast("ibex_db_file_synced_timestamp_seconds", System.currentTimeMillis() / 1000.0 - 60);    // the first, 100 ms after start
    }

    private static long fileSize(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void unfinishedWork_showsInTasksAndHostsByStatus() {
        long id = s.create(TestServer.task("ghost-m1", "ghost-m2"));
        var m = scrape();
        assertTrue(value(m, "ibex_tasks_unfinished{action=\"pause\"}") >= 1, "paused task counted: " + m);
        assertTrue(value(m, "ibex_task_hosts{status=\"waiting\"}") >= 2, "its two waiting hosts: " + m);
        s.put("/ibex/v1/task/" + id + "/action", "{\"action\":\"cancel\"}");
        s.awaitDone(id);
    }

    @Test
    void aKill_andATimeout_areCounted() {
        var before = scrape();
        long killed = s.create(TestServer.task("m-1").set("action", "start").set("script", "#!/bin/sh\nsleep 30\n"));
        s.awaitHost(killed, "m-1", "running");
        assertEquals("{\"err\":\"\"}", s.put("/ibex/v1/task/" + killed + "/host/m-1/action", "{\"action\":\"kill\"}").body());
        s.awaitDone(killed);
        assertTrue(value(scrape(), "ibex_kills_total") >= value(before, "ibex_kills_total") + 1, "kill counted");

        long slow = s.create(TestServer.task("m-1").set("action", "start").set("timeout", 1).set("script", "#!/bin/sh\nsleep 30\n"));
        s.awaitDone(slow);
        awaitAtLeast("ibex_timeouts_total", value(before, "ibex_timeouts_total") + 1);
    }

    @Test
    void aMalformedFrame_onTheAgentPort_isAFrameError() throws IOException {
        double before = value(scrape(), "ibex_frame_errors_total");
        try (var socket = new Socket("127.0.0.1", s.server.rpcAddress().getPort())) {
            socket.setSoTimeout(5000);
            var in = new DataInputStream(socket.getInputStream());
            in.readFully(new byte[in.readInt()]);                      // the Greeting
            socket.getOutputStream().write(new byte[] {0, 0, 0, 0});    // length 0: invalid
            socket.getOutputStream().flush();
            in.readFully(new byte[in.readInt()]);                      // the ErrorReply
        }
        awaitAtLeast("ibex_frame_errors_total", before + 1);
    }
}
