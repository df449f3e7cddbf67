package ibex.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonArray;
import com.eclipsesource.json.JsonObject;
import com.eclipsesource.json.JsonValue;
import ibex.agent.Agent;
import ibex.config.AgentConfig;
import ibex.config.Pem;
import ibex.config.ServerConfig;
import ibex.server.Scrape;
import ibex.server.Server;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.function.Predicate;
import javax.net.ssl.SSLContext;

/**
 * A real {@link Server} on 127.0.0.1:0 (embedded H2 in a temp dir) configured the way the security
 * tests need it: a token on the agent port, TLS, limits, two API accounts. Agents are real
 * {@link Agent}s in this JVM, each with its own MetaDir (so its own key pair). Close it to stop
 * everything and remove the directory.
 */
final class SecureServer implements AutoCloseable {
    static final String USER = "ibex";
    static final String PASSWORD = "s3cret-pass-1";
    static final String AUDITOR = "auditor";
    static final String AUDITOR_PASSWORD = "other-pass-22";
    static final String TOKEN = "rpc-token-0123456789abcdef";

    final Server server;
    final Path dir;
    final Path conf;
    private final SSLContext clientTls;
    private final HttpClient http;
    private final List<Agent> agents = new ArrayList<>();
    private final List<Thread> agentThreads = new ArrayList<>();

    /** What to put in the file besides the basics; each string is TOML lines for its section. */
    record Options(String http, String rpc, String more, Path caFile) {
        static Options plain() {
            return new Options("", "", "", null);
        }

        static Options token() {
            return new Options("", "Token = \"" + TOKEN + "\"", "", null);
        }

        Options withHttp(String lines) {
            return new Options(http + "\n" + lines, rpc, more, caFile);
        }

        Options withRpc(String lines) {
            return new Options(http, rpc + "\n" + lines, more, caFile);
        }

        Options withMore(String lines) {
            return new Options(http, rpc, more + "\n" + lines, caFile);
        }
    }

    private SecureServer(Server server, Path dir, Path conf, SSLContext clientTls) {
        this.server = server;
        this.dir = dir;
        this.conf = conf;
        this.clientTls = clientTls;
        var b = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).connectTimeout(Duration.ofSeconds(5));
        if (clientTls != null) {
            b.sslContext(clientTls);
        }
        this.http = b.build();
    }

    static SecureServer start(Options o) throws IOException {
        return start(Files.createTempDirectory("ibex-sec-"), o);
    }

    /** Starts a server in {@code dir} (its H2 file is {@code dir/data/ibex}, so a restart finds it). */
    static SecureServer start(Path dir, Options o) throws IOException {
        Path conf = writeConfig(dir, o);
        var server = new Server(ServerConfig.load(conf), "sec-test");
        try {
            server.start();
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
        return new SecureServer(server, dir, conf, o.caFile() == null ? null : Pem.context(null, null, o.caFile()));
    }

    static Path writeConfig(Path dir, Options o) throws IOException {
        Files.createDirectories(dir);
        Path conf = dir.resolve("server.conf");
        Files.writeString(conf, """
                [Log]
                Level = "WARNING"

                [HTTP]
                Host = "127.0.0.1"
                Port = 0
                %s

                [BasicAuth]
                %s = "%s"
                %s = "%s"

                [RPC]
                Listen = "127.0.0.1:0"
                %s

                [Heartbeat]
                IP = "127.0.0.1"
                Interval = 1000

                [DB]
                DBType = "h2"
                DSN = "%s"
                %s
                """.formatted(o.http(), USER, PASSWORD, AUDITOR, AUDITOR_PASSWORD, o.rpc(), dir.resolve("data/ibex"), o.more()));
        return conf;
    }

    InetSocketAddress rpc() {
        return server.rpcAddress();
    }

    String base() {
        return (clientTls == null ? "http" : "https") + "://127.0.0.1:" + server.httpAddress().getPort();
    }

    // ---- agents ----------------------------------------------------------------------------------

    /** A real agent as {@code host} with MetaDir {@code dir/meta-NAME}, reporting every 200 ms. */
    Agent agent(String host, String metaName, String token, Path caFile) throws IOException {
        Path conf = dir.resolve("agentd-" + metaName + ".conf");
        Files.writeString(conf, """
                MetaDir = "%s"

                [Heartbeat]
                Interval = 200
                Servers = ["127.0.0.1:%d"]
                Host = "%s"
                %s
                %s
                """.formatted(dir.resolve("meta-" + metaName), rpc().getPort(), host,
                token == null ? "" : "Token = \"" + token + "\"", caFile == null ? "" : "CAFile = \"" + caFile + "\""));
        var agent = new Agent(AgentConfig.load(conf), "sec-test");
        var t = Thread.ofPlatform().name("agent-" + metaName).daemon().start(() -> {
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

    Agent agent(String host) throws IOException {
        return agent(host, host, TOKEN, null);
    }

    /** Stops one agent and waits for its thread, so its connection is gone. */
    void stop(Agent agent) {
        int i = agents.indexOf(agent);
        agent.close();
        try {
            agentThreads.get(i).join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- HTTP ------------------------------------------------------------------------------------

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

        String err() {
            return json().getString("err", null);
        }

        JsonValue dat() {
            var o = json();
            assertEquals("", o.getString("err", null), () -> "err of " + raw.body());
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

    static final String AUTH = basic(USER, PASSWORD);

    Reply send(String method, String path, String body, String authorization) {
        var b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(60))
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (authorization != null) {
            b.header("Authorization", authorization);
        }
        return send(b.build());
    }

    Reply send(HttpRequest request) {
        try {
            var r = http.send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            return new Reply(r.statusCode(), r);
        } catch (IOException e) {
            throw new UncheckedIOException(request.method() + " " + request.uri(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    HttpRequest.Builder request(String path) {
        return HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(60)).header("Authorization", AUTH);
    }

    Reply get(String path) {
        return send("GET", path, null, AUTH);
    }

    Reply put(String path, String body) {
        return send("PUT", path, body, AUTH);
    }

    Reply post(String path, String body) {
        return send("POST", path, body, AUTH);
    }

    long create(JsonObject task) {
        return create(task, AUTH);
    }

    long create(JsonObject task, String authorization) {
        var r = send("POST", "/ibex/v1/tasks", task.toString(), authorization);
        assertEquals(200, r.status(), r::toString);
        return r.dat().asLong();
    }

    static JsonObject task(String... hosts) {
        var h = new JsonArray();
        for (var s : hosts) {
            h.add(s);
        }
        return new JsonObject().add("title", "security test").add("account", System.getProperty("user.name"))
                .add("script", "#!/bin/sh\necho hi\n").add("action", "pause").add("creator", "tester").add("hosts", h);
    }

    JsonObject task(long id) {
        var r = get("/ibex/v1/task/" + id);
        assertEquals(200, r.status(), r::toString);
        return r.dat().asObject();
    }

    /** Number of tasks whose title or hosts match {@code query} (to prove a refused request made nothing). */
    long count(String query) {
        return get("/ibex/v1/tasks?days=1&query=" + query).dat().asObject().getLong("total", -1);
    }

    JsonObject await(long id, String what, Predicate<JsonObject> condition) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        JsonObject last;
        do {
            last = task(id);
            if (condition.test(last)) {
                return last;
            }
            sleep(50);
        } while (System.nanoTime() < deadline);
        return fail("task " + id + ": waited 60 s for " + what + "; last seen " + last);
    }

    /** A sample of /metrics without labels, e.g. ibex_agents_connected. */
    long metric(String name) {
        var r = get("/metrics");
        assertEquals(200, r.status(), r::toString);
        return (long) Scrape.sample(r.body(), name);
    }

        /** Polls a /metrics sample until it meets the condition; fails after {@code seconds}. */
    void awaitMetric(String name, java.util.function.LongPredicate ok, int seconds, String what) {
        long deadline = System.nanoTime() + Duration.ofSeconds(seconds).toNanos();
        long last;
        while (!ok.test(last = metric(name))) {
            if (System.nanoTime() > deadline) {
                fail("waited " + seconds + " s for " + what + "; " + name + " is " + last);
            }
            sleep(50);
        }
    }

        JsonObject awaitDone(long id) {
        return await(id, "done", t -> t.get("meta").asObject().getBoolean("done", false));
    }

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

    /** Runs {@code echo ran-on-HOST} on one host and checks it succeeds: the agent is connected and trusted. */
    void assertRunsOn(String host) {
        long id = create(task(host).set("action", "start").set("script", "#!/bin/sh\necho ran-on-$1\n").set("args", host));
        var done = awaitDone(id);
        assertEquals("success", statusOf(done, host), done::toString);
        assertEquals("ran-on-" + host + "\n", get("/ibex/v1/task/" + id + "/host/" + host + "/stdout").dat().asString());
    }

    static String sha256(String text) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    static void assertContains(String text, String part) {
        assertTrue(text != null && text.contains(part), () -> "expected to contain «" + part + "»: " + text);
    }

    /** Closes agents and server, keeps the directory (a restart on the same H2 file). */
    void stopAll() {
        agents.forEach(Agent::close);
        for (var t : agentThreads) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        server.close();
    }

    @Override
    public void close() {
        stopAll();
        delete(dir);
    }

    static void delete(Path dir) {
        try (var paths = Files.walk(dir)) {
            for (var p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // A temp dir left behind is not a test failure.
        }
    }
}
