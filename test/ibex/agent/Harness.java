package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonArray;
import com.eclipsesource.json.JsonObject;
import ibex.config.AgentConfig;
import ibex.config.ServerConfig;
import ibex.server.Scrape;
import ibex.server.Server;
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
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/**
 * A real server (embedded H2, 127.0.0.1, any free ports) for agent tests, with agents in this JVM
 * or as {@code bin/ibex agentd} processes, and the HTTP calls the tests need. Close it to stop
 * everything it started and remove its directory.
 */
final class Harness implements AutoCloseable {
    static final String AUTH = "Basic " + Base64.getEncoder().encodeToString("ibex:secret".getBytes(StandardCharsets.UTF_8));
    private static final HttpClient HTTP = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
            .connectTimeout(Duration.ofSeconds(5)).build();

    final Path dir;
    Server server;
    private final List<Agent> agents = new ArrayList<>();
    private final List<Process> processes = new ArrayList<>();

    Harness() throws IOException {
        dir = Files.createTempDirectory("ibex-agent-");
        Files.setPosixFilePermissions(dir, java.nio.file.attribute.PosixFilePermissions.fromString("rwx--x--x"));
        server = startServer(0);
    }

    private Server startServer(int rpcPort) throws IOException {
        Path conf = dir.resolve("server.conf");
        Files.writeString(conf, """
                [Log]
                Level = "WARNING"
                [HTTP]
                Host = "127.0.0.1"
                Port = 0
                [BasicAuth]
                ibex = "secret"
                [RPC]
                Listen = "127.0.0.1:%d"
                [Heartbeat]
                IP = "127.0.0.1"
                Interval = 200
                [DB]
                DBType = "h2"
                DSN = "%s"
                """.formatted(rpcPort, dir.resolve("data/ibex")));
        var s = new Server(ServerConfig.load(conf), "test");
        try {
            s.start();
        } catch (IOException | RuntimeException e) {
            s.close();
            throw e;
        }
        return s;
    }

    /** Stops the server, waits, and starts it again on the same database and agent port. */
    void restartServer(Duration down) throws IOException {
        int port = server.rpcAddress().getPort();
        server.close();
        sleep(down.toMillis());
        server = startServer(port);
    }

    /** An agent config for {@code host}: MetaDir under this harness, 200 ms heartbeats, [Task] as given. */
    Path agentConf(String host, String taskSection) throws IOException {
        return agentConf(host, taskSection, "WARNING");
    }

    Path agentConf(String host, String taskSection, String logLevel) throws IOException {
        Path conf = dir.resolve("agentd-" + host + ".conf");
        Files.writeString(conf, """
                MetaDir = "%s"
                [Log]
                Level = "%s"
                [Heartbeat]
                Interval = 200
                Servers = ["127.0.0.1:%d"]
                Host = "%s"
                [Task]
                %s
                """.formatted(meta(host), logLevel, server.rpcAddress().getPort(), host, taskSection));
        return conf;
    }

    Path meta(String host) {
        return dir.resolve("meta-" + host);
    }

    /** An agent in this JVM. */
    Agent agent(String host, String taskSection) throws IOException {
        var agent = new Agent(AgentConfig.load(agentConf(host, taskSection)), "test");
        Thread.ofPlatform().name("agent-" + host).daemon().start(() -> {
            try {
                agent.run();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        agents.add(agent);
        return agent;
    }

    /** {@code bin/ibex agentd} as a process, logging at INFO to a file in the harness directory. */
    Process agentProcess(String host, String taskSection, String javaOpts) throws IOException {
        return agentProcess(List.of(), host, taskSection, javaOpts);
    }

    /** The same, its command line after {@code prefix} (such as a setpriv that makes it another user). */
    Process agentProcess(List<String> prefix, String host, String taskSection, String javaOpts) throws IOException {
        var cmd = new ArrayList<>(prefix);
        // Another user may not reach the built image (a checkout under a 0700 directory, as
        // mktemp -d makes): it runs a copy in a directory anyone can read, without the AOT cache,
        // which was made for the image's own place.
        cmd.addAll(List.of(prefix.isEmpty() ? bin() : sharedBin(), "agentd", "-c", agentConf(host, taskSection, "INFO").toString()));
        var pb = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("agentd-" + host + ".log").toFile()));
        if (javaOpts != null) {
            pb.environment().put("IBEX_JAVA_OPTS", javaOpts);
        }
        if (!prefix.isEmpty()) {
            pb.environment().put("IBEX_AOT", "off");
        }
        var p = pb.start();
        processes.add(p);
        return p;
    }

    private static String sharedBin;

    /** bin/ibex of a copy of the image in a directory every user can read; made once per test run. */
    static synchronized String sharedBin() throws IOException {
        if (sharedBin == null) {
            var image = Path.of(bin()).toRealPath().getParent().getParent();
            var copy = Files.createTempDirectory("ibex-image-");
            Files.setPosixFilePermissions(copy, java.nio.file.attribute.PosixFilePermissions.fromString("rwxr-xr-x"));
            try {
                var cp = new ProcessBuilder("cp", "-a", image + "/.", copy.toString()).inheritIO().start();
                if (cp.waitFor() != 0) {
                    throw new IOException("cp -a " + image + " " + copy + " failed");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while copying the image", e);
            }
            sharedBin = copy.resolve("bin/ibex").toString();
        }
        return sharedBin;
    }

    static String bin() {
        var bin = System.getProperty("ibex.bin");
        if (bin == null || !Files.isExecutable(Path.of(bin))) {
            throw new AssertionError("system property ibex.bin must name the built bin/ibex, got " + bin);
        }
        return bin;
    }

    String log(String host) throws IOException {
        var f = dir.resolve("agentd-" + host + ".log");
        return Files.exists(f) ? Files.readString(f) : "";
    }

    // ---- HTTP --------------------------------------------------------------------------------------

    JsonObject call(String method, String path, String body) {
        var b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpAddress().getPort() + path))
                .timeout(Duration.ofSeconds(20)).header("Authorization", AUTH)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        try {
            var r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            assertEquals(200, r.statusCode(), () -> method + " " + path + ": " + r.body());
            var o = Json.parse(r.body()).asObject();
            assertEquals("", o.getString("err", ""), () -> method + " " + path + ": " + r.body());
            return o;
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** One unlabelled value from the server's {@code /metrics}. */
    double metric(String name) {
        var r = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.httpAddress().getPort() + "/metrics"))
                .timeout(Duration.ofSeconds(20)).header("Authorization", AUTH).build();
        try {
            var reply = HTTP.send(r, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
            assertEquals(200, reply.statusCode(), reply::body);
            return Scrape.sample(reply.body(), name);
        } catch (IOException e) {
            throw new UncheckedIOException("GET /metrics", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    /** Creates and starts a task on the hosts; returns its id. */
    long task(String script, String account, int timeout, String... hosts) {
        return taskWithArgs(script, account, timeout, "", hosts);
    }

    long taskWithArgs(String script, String account, int timeout, String args, String... hosts) {
        var h = new JsonArray();
        for (var s : hosts) {
            h.add(s);
        }
        var body = new JsonObject().add("title", "agent test").add("account", account).add("script", script)
                .add("args", args).add("timeout", timeout).add("action", "start").add("creator", "tester").add("hosts", h);
        return call("POST", "/ibex/v1/tasks", body.toString()).get("dat").asLong();
    }

    /** GET /ibex/v1/task/:id/host/:host/output: id, host, status, stdout, stderr. */
    JsonObject output(long id, String host) {
        return call("GET", "/ibex/v1/task/" + id + "/host/" + host + "/output", null).get("dat").asObject();
    }

    void killHost(long id, String host) {
        call("PUT", "/ibex/v1/task/" + id + "/host/" + host + "/action", "{\"action\":\"kill\"}");
    }

    /** Polls the host's output row until the condition holds; returns that row. */
    JsonObject await(long id, String host, Duration max, String what, Predicate<JsonObject> condition) {
        long deadline = System.nanoTime() + max.toNanos();
        JsonObject last;
        do {
            last = output(id, host);
            if (condition.test(last)) {
                return last;
            }
            sleep(50);
        } while (System.nanoTime() < deadline);
        return fail("task " + id + " host " + host + ": waited " + max.toSeconds() + " s for " + what + "; last " + last);
    }

    /** Polls until the host has a status other than waiting, running or killing. */
    JsonObject awaitEnd(long id, String host, Duration max) {
        return await(id, host, max, "a result", o -> !List.of("waiting", "running", "killing").contains(o.getString("status", "")));
    }

    static void awaitTrue(Duration max, String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + max.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("waited " + max.toMillis() + " ms for " + what);
            }
            sleep(50);
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

    /** Pids written one per line to {@code file} by a test script. */
    static List<Long> pids(Path file) throws IOException {
        return Files.readAllLines(file).stream().map(String::strip).filter(s -> !s.isEmpty()).map(Long::parseLong).toList();
    }

    /** True while a process with this pid runs (a zombie has ended). */
    static boolean running(long pid) {
        return Procs.read(pid).filter(p -> !p.exited()).isPresent();
    }

    /** Cleanup for tests that leave processes on purpose: KILL them. */
    static void killAll(List<Long> pids) {
        for (var pid : pids) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
    }

    @Override
    public void close() {
        agents.forEach(Agent::close);
        for (var p : processes) {
            p.destroyForcibly();
            try {
                p.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        server.close();
        try (var paths = Files.walk(dir)) {
            for (var p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            // A temp dir left behind is not a test failure.
        }
    }
}
