package ibex.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonArray;
import com.eclipsesource.json.JsonObject;
import ibex.agent.Agent;
import ibex.config.AgentConfig;
import ibex.config.ServerConfig;
import ibex.server.Server;
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
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Collectors;

/**
 * Real servers on 127.0.0.1:0 sharing one database (a fresh H2 file, or a fresh MariaDB database),
 * and real in-process agents under literal host names, each with its own MetaDir. Basic auth is
 * {@code ibex:secret}. Close it to stop everything and remove the database and the temp dir.
 */
public final class Fleet implements AutoCloseable {
    static final String AUTH = "Basic " + Base64.getEncoder().encodeToString("ibex:secret".getBytes(StandardCharsets.UTF_8));
    private static final HttpClient HTTP = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
            .connectTimeout(Duration.ofSeconds(5)).build();

    public final Path dir;
    private final String dbSection;
    private final String jdbcUrl;
    private final String mariadbName;
    private final String schedulerSection;
    private final List<Server> servers = new ArrayList<>();
    private final List<Member> agents = new ArrayList<>();

    /** One agent and its thread. */
    public record Member(String host, Path metaDir, Agent agent, Thread thread) {
        public void stop() {
            agent.close();
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private Fleet(Path dir, String dbSection, String jdbcUrl, String mariadbName, String schedulerSection) {
        this.dir = dir;
        this.dbSection = dbSection;
        this.jdbcUrl = jdbcUrl;
        this.mariadbName = mariadbName;
        this.schedulerSection = schedulerSection;
    }

    /**
     * A fleet on a fresh H2 file (one server only: the file belongs to one process, so {@link #jdbc}
     * does not work here).
     *
     * @param scheduler the body of the server's [Scheduler] section
     */
    public static Fleet h2(String scheduler) throws IOException {
        Path dir = Files.createTempDirectory("ibex-fleet-");
        String url = "jdbc:h2:file:" + dir.resolve("data/ibex")
                + ";MODE=MySQL;DATABASE_TO_LOWER=TRUE";
        return new Fleet(dir, "DBType = \"h2\"\nDSN = \"" + dir.resolve("data/ibex") + "\"\n", url, null, scheduler);
    }

    /** A fleet on a fresh MariaDB database at 127.0.0.1:3306 (root, no password). */
    public static Fleet mariadb(String scheduler) throws IOException {
        Path dir = Files.createTempDirectory("ibex-fleet-");
        String name = TestDatabases.freshMariadbDatabase();
        String url = "jdbc:mysql://" + TestDatabases.MARIADB_HOST + "/" + name + "?user=root&sslMode=DISABLED";
        return new Fleet(dir, "DBType = \"mysql\"\nDSN = \"" + url + "\"\nMaxOpenConns = 8\n", url, name, scheduler);
    }

    /** Starts one more server on the shared database. */
    public Server server() throws IOException {
        Path conf = dir.resolve("server-" + servers.size() + ".conf");
        Files.writeString(conf, """
                [HTTP]
                Host = "127.0.0.1"
                Port = 0

                [BasicAuth]
                ibex = "secret"

                [RPC]
                Listen = "127.0.0.1:0"

                [Heartbeat]
                IP = "127.0.0.1"
                Interval = 1000

                [Scheduler]
                %s

                [DB]
                %s""".formatted(schedulerSection, dbSection));
        var server = new Server(ServerConfig.load(conf), "test");
        servers.add(server);
        server.start();
        return server;
    }

    /** Closes one server now (as if it died); the fleet does not close it again. */
    public void stop(Server s) {
        servers.remove(s);
        s.close();
    }

    /** Starts an agent answering to {@code host}, reporting every 200 ms, with its own MetaDir. */
    public Member agent(String host, Server... to) throws IOException {
        return agent(host, dir.resolve("meta-" + host), to);
    }

    public Member agent(String host, Path metaDir, Server... to) throws IOException {
        var list = new ArrayList<String>();
        for (var s : to) {
            list.add("\"127.0.0.1:" + s.rpcAddress().getPort() + "\"");
        }
        Path conf = Files.createTempFile(dir, "agentd-" + host + "-", ".conf");
        Files.writeString(conf, """
                MetaDir = "%s"

                [Heartbeat]
                Interval = 200
                Servers = [%s]
                Host = "%s"
                """.formatted(metaDir, String.join(", ", list), host));
        var agent = new Agent(AgentConfig.load(conf), "test");
        var t = Thread.ofPlatform().name("agent-" + host).daemon().start(() -> {
            try {
                agent.run();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        var m = new Member(host, metaDir, agent, t);
        agents.add(m);
        return m;
    }

    /** A JDBC connection to the fleet's MariaDB database. */
    public Connection jdbc() throws SQLException {
        return DriverManager.getConnection(jdbcUrl);
    }

    /**
     * Waits until every named host has a working agent: on MariaDB by its connected row in
     * agent_host, on H2 (one process may open the file) by a probe task that must succeed there.
     */
    public void awaitConnected(String... hosts) {
        if (mariadbName == null) {
            long id = create(servers.get(0), task("#!/bin/sh\ntrue\n", hosts).set("title", "probe"));
            awaitDone(servers.get(0), id, Duration.ofSeconds(15));
            var t = get(servers.get(0), id);
            for (var h : hosts) {
                assertEquals("success", status(t, h), () -> "probe on " + h + ": " + t);
            }
            return;
        }
        awaitTrue("agents " + List.of(hosts) + " connected", Duration.ofSeconds(15), () -> {
            try (var c = jdbc(); var ps = c.prepareStatement("SELECT count(*) FROM agent_host WHERE connected = 1 AND host IN ("
                    + List.of(hosts).stream().map(h -> "?").collect(Collectors.joining(",")) + ")")) {
                for (int i = 0; i < hosts.length; i++) {
                    ps.setString(i + 1, hosts[i]);
                }
                try (var rs = ps.executeQuery()) {
                    return rs.next() && rs.getInt(1) == hosts.length;
                }
            } catch (SQLException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    // ---- HTTP ------------------------------------------------------------------------------------

    public static String base(Server s) {
        return "http://127.0.0.1:" + s.httpAddress().getPort();
    }

    /** Sends a request with the fleet's credentials; answers the parsed JSON body. */
    public static JsonObject call(Server s, String method, String path, String body) {
        var b = HttpRequest.newBuilder(URI.create(base(s) + path)).timeout(Duration.ofSeconds(20)).header("Authorization", AUTH)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        try {
            var r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            assertEquals(200, r.statusCode(), () -> method + " " + path + " → " + r.statusCode() + " " + r.body());
            return Json.parse(r.body()).asObject();
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** The {@code dat} of a reply whose {@code err} is empty. */
    public static com.eclipsesource.json.JsonValue dat(JsonObject reply) {
        assertEquals("", reply.getString("err", ""), () -> "err of " + reply);
        return reply.get("dat");
    }

    /** A task that starts at once, as the current user, on the given hosts. */
    public static JsonObject task(String script, String... hosts) {
        var h = new JsonArray();
        for (var s : hosts) {
            h.add(s);
        }
        return new JsonObject().add("title", "fleet test").add("account", System.getProperty("user.name"))
                .add("script", script).add("action", "start").add("creator", "tester").add("hosts", h);
    }

    public static long create(Server s, JsonObject task) {
        return dat(call(s, "POST", "/ibex/v1/tasks", task.toString())).asLong();
    }

    public static JsonObject taskAction(Server s, long id, String action) {
        return call(s, "PUT", "/ibex/v1/task/" + id + "/action", "{\"action\":\"" + action + "\"}");
    }

    public static JsonObject hostAction(Server s, long id, String host, String action) {
        return call(s, "PUT", "/ibex/v1/task/" + id + "/host/" + host + "/action", "{\"action\":\"" + action + "\"}");
    }

    /** GET /ibex/v1/task/:id → dat: meta, hosts, action. */
    public static JsonObject get(Server s, long id) {
        return dat(call(s, "GET", "/ibex/v1/task/" + id, null)).asObject();
    }

    public static String state(Server s, long id) {
        return dat(call(s, "GET", "/ibex/v1/task/" + id + "/state", null)).asString();
    }

    public static boolean inDoneIds(Server s, long id) {
        for (var v : dat(call(s, "GET", "/ibex/v1/tasks/done-ids?ids=" + id, null)).asObject().get("list").asArray()) {
            if (v.asLong() == id) {
                return true;
            }
        }
        return false;
    }

    public static String status(JsonObject task, String host) {
        for (var h : task.get("hosts").asArray()) {
            if (host.equals(h.asObject().getString("host", ""))) {
                return h.asObject().getString("status", "");
            }
        }
        return fail("host " + host + " is not in " + task);
    }

    public static String stdout(Server s, long id, String host) {
        return dat(call(s, "GET", "/ibex/v1/task/" + id + "/host/" + host + "/stdout", null)).asString();
    }

    public static String stderr(Server s, long id, String host) {
        return dat(call(s, "GET", "/ibex/v1/task/" + id + "/host/" + host + "/stderr", null)).asString();
    }

    /** Polls the task until the condition holds, and answers that view of it. */
    public static JsonObject await(Server s, long id, String what, Duration limit, Predicate<JsonObject> condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        JsonObject last;
        do {
            last = get(s, id);
            if (condition.test(last)) {
                return last;
            }
            sleep(50);
        } while (System.nanoTime() < deadline);
        return fail("task " + id + ": waited " + limit.toSeconds() + " s for " + what + "; last seen " + last);
    }

    public static JsonObject awaitHost(Server s, long id, String host, String status, Duration limit) {
        return await(s, id, host + " " + status, limit, t -> status.equals(status(t, host)));
    }

    public static JsonObject awaitDone(Server s, long id, Duration limit) {
        return await(s, id, "done", limit, t -> t.get("meta").asObject().getBoolean("done", false));
    }

    public static void awaitTrue(String what, Duration limit, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + limit.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("waited " + limit.toSeconds() + " s for " + what);
            }
            sleep(50);
        }
    }

    public static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    // ---- processes -------------------------------------------------------------------------------

    /** Processes whose command line contains {@code marker}, from /proc. */
    public static List<ProcessHandle> withArgument(String marker) {
        var out = new ArrayList<ProcessHandle>();
        ProcessHandle.allProcesses().forEach(p -> {
            try {
                var cmdline = Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline"), StandardCharsets.ISO_8859_1);
                if (cmdline.contains(marker) && p.pid() != ProcessHandle.current().pid()) {
                    out.add(p);
                }
            } catch (IOException | UncheckedIOException e) {
                // Gone meanwhile, or not ours to read.
            }
        });
        return out;
    }

    /** Kills, by pid, what a test left running under its own marker. */
    public static void killLeftovers(String marker) {
        for (var p : withArgument(marker)) {
            p.destroyForcibly();
        }
    }

    @Override
    public void close() {
        for (var m : agents) {
            m.stop();
        }
        for (var s : servers) {
            s.close();
        }
        if (mariadbName != null) {
            TestDatabases.dropMariadb(mariadbName);
        }
        try (var paths = Files.walk(dir)) {
            for (var p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException | UncheckedIOException e) {
            // A temp dir left behind is not a test failure.
        }
    }
}
