package ibex.server;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonObject;
import com.eclipsesource.json.JsonValue;
import ibex.agent.Agent;
import ibex.config.AgentConfig;
import ibex.config.ServerConfig;
import ibex.store.TestDatabases;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.Named;

/**
 * A real {@link Server} on 127.0.0.1:0 with basic auth {@code ibex:secret}, on a fresh H2 file or a
 * fresh MariaDB database, plus in-process agents under literal host names, and an HTTP client.
 * Close it to stop the agents and the server and remove the database.
 */
final class TestServer implements AutoCloseable {
    static final String USER = "ibex";
    static final String PASSWORD = "secret";
    static final String VERSION = "9.8.7-test";

    /** Where the task store lives. */
    enum Backend { H2, MARIADB }

    private static final HttpClient HTTP = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
            .connectTimeout(Duration.ofSeconds(5)).build();

    final Server server;
    final Path dir;
    private final String mariadbName;
    private final List<Agent> agents = new ArrayList<>();
    private final List<Thread> agentThreads = new ArrayList<>();

    /** H2 always; MariaDB when it answers, and in CI (CI=true) also when it does not, to fail there. */
    static Stream<Named<Backend>> backends() {
        var list = new ArrayList<Named<Backend>>();
        list.add(Named.of("h2", Backend.H2));
        if (TestDatabases.mariadbAvailable() || "true".equals(System.getenv("CI"))) {
            list.add(Named.of("mariadb", Backend.MARIADB));
        }
        return list.stream();
    }

    private TestServer(Server server, Path dir, String mariadbName) {
        this.server = server;
        this.dir = dir;
        this.mariadbName = mariadbName;
    }

    static TestServer start(Backend backend) throws IOException {
        Path dir = Files.createTempDirectory("ibex-api-");
        String db;
        String mariadbName = null;
        if (backend == Backend.MARIADB) {
            if (!TestDatabases.mariadbAvailable()) {
                throw new AssertionError("CI=true but MariaDB at " + TestDatabases.MARIADB_HOST + " does not answer as root");
            }
            mariadbName = TestDatabases.freshMariadbDatabase();
            db = "DBType = \"mysql\"\nDSN = \"jdbc:mysql://" + TestDatabases.MARIADB_HOST + "/" + mariadbName
                    + "?user=root&sslMode=DISABLED\"\nMaxOpenConns = 8\n";
        } else {
            db = "DBType = \"h2\"\nDSN = \"" + dir.resolve("data/ibex") + "\"\n";
        }
        Path conf = dir.resolve("server.conf");
        Files.writeString(conf, """
                [HTTP]
                Host = "127.0.0.1"
                Port = 0

                [BasicAuth]
                %s = "%s"

                [RPC]
                Listen = "127.0.0.1:0"

                [Heartbeat]
                IP = "127.0.0.1"
                Interval = 1000

                [DB]
                %s""".formatted(USER, PASSWORD, db));
        var server = new Server(ServerConfig.load(conf), VERSION);
        try {
            server.start();
        } catch (IOException | RuntimeException e) {
            server.close();
            if (mariadbName != null) {
                TestDatabases.dropMariadb(mariadbName);
            }
            throw e;
        }
        return new TestServer(server, dir, mariadbName);
    }

    /** Starts an in-process agent that answers to {@code host} and reports every 200 ms. */
    Agent agent(String host) throws IOException {
        Path conf = dir.resolve("agentd-" + host + ".conf");
        Files.writeString(conf, """
                MetaDir = "%s"

                [Heartbeat]
                Interval = 200
                Servers = ["127.0.0.1:%d"]
                Host = "%s"
                """.formatted(dir.resolve("meta-" + host), server.rpcAddress().getPort(), host));
        var agent = new Agent(AgentConfig.load(conf), "test");
        var t = Thread.ofPlatform().name("agent-" + host).daemon().start(() -> {
            try {
                agent.run();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        agents.add(agent);
        agentThreads.add(t);
        return agent;
    }

    String base() {
        return "http://127.0.0.1:" + server.httpAddress().getPort();
    }

    // ---- HTTP ------------------------------------------------------------------------------------

    /** A reply: status, one header lookup, the body as text and (when it is JSON) parsed. */
    record Reply(int status, HttpResponse<String> raw) {
        String body() {
            return raw.body();
        }

        String header(String name) {
            return raw.headers().firstValue(name).orElse(null);
        }

        JsonObject json() {
            return Json.parse(raw.body()).asObject();
        }

        JsonValue dat() {
            var o = json();
            assertEquals("", o.getString("err", null), () -> "err of " + raw.body());
            assertEquals(List.of("dat", "err"), o.names(), () -> "envelope of " + raw.body());
            return o.get("dat");
        }

        @Override
        public String toString() {
            return status + " " + raw.body();
        }
    }

    static String basic(String user, String password) {
        return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
    }

    Reply send(String method, String path, String body, String authorization) {
        var b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(20))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        try {
            var r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            return new Reply(r.statusCode(), r);
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    Reply get(String path) {
        return send("GET", path, null, basic(USER, PASSWORD));
    }

    Reply put(String path, String body) {
        return send("PUT", path, body, basic(USER, PASSWORD));
    }

    Reply post(String path, String body) {
        return send("POST", path, body, basic(USER, PASSWORD));
    }

    /** Creates a task and returns its id; the request must succeed. */
    long create(JsonObject task) {
        var r = post("/ibex/v1/tasks", task.toString());
        assertEquals(200, r.status(), r::toString);
        return r.dat().asLong();
    }

    /** A task the tests adjust: account is this user, paused unless they say start. */
    static JsonObject task(String... hosts) {
        var h = new com.eclipsesource.json.JsonArray();
        for (var s : hosts) {
            h.add(s);
        }
        return new JsonObject().add("title", "api test").add("account", System.getProperty("user.name"))
                .add("script", "#!/bin/sh\necho hi\n").add("action", "pause").add("creator", "tester").add("hosts", h);
    }

    /** GET /ibex/v1/task/:id, dat. */
    JsonObject task(long id) {
        var r = get("/ibex/v1/task/" + id);
        assertEquals(200, r.status(), r::toString);
        return r.dat().asObject();
    }

    /** Polls the task until the condition holds (20 s at most) and returns that view of it. */
    JsonObject await(long id, String what, Predicate<JsonObject> condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        JsonObject last;
        do {
            last = task(id);
            if (condition.test(last)) {
                return last;
            }
            sleep(50);
        } while (System.nanoTime() < deadline);
        return fail("task " + id + ": waited 20 s for " + what + "; last seen " + last);
    }

    JsonObject awaitDone(long id) {
        return await(id, "done", t -> t.get("meta").asObject().getBoolean("done", false));
    }

    /** Polls one host's status until it is {@code status}. */
    JsonObject awaitHost(long id, String host, String status) {
        return await(id, host + " " + status, t -> status.equals(statusOf(t, host)));
    }

    static String statusOf(JsonObject task, String host) {
        for (var h : task.get("hosts").asArray()) {
            if (host.equals(h.asObject().getString("host", ""))) {
                return h.asObject().getString("status", "");
            }
        }
        return null;
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    @Override
    public void close() {
        agents.forEach(Agent::close);
        for (var t : agentThreads) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        server.close();
        if (mariadbName != null) {
            TestDatabases.dropMariadb(mariadbName);
        }
        try (var paths = Files.walk(dir)) {
            for (var p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // A temp dir left behind is not a test failure.
        }
    }
}
