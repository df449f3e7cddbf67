package ibex.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonArray;
import com.eclipsesource.json.JsonObject;
import com.eclipsesource.json.JsonValue;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
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
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The built {@code bin/ibex} as a user runs it: a server and an agent as processes, configured by
 * files, talked to over HTTP; exit codes and output checked as a user would see them.
 */
class BinaryEndToEndTest {
    private static final Pattern READY = Pattern.compile("server ready: http 127\\.0\\.0\\.1:(\\d+), agents 127\\.0\\.0\\.1:(\\d+)");
    private static final HttpClient HTTP = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).build();
    private static final String AUTH = "Basic " + Base64.getEncoder().encodeToString("ibex:e2e-pass".getBytes(StandardCharsets.UTF_8));

    private Path dir;
    private final List<Running> started = new ArrayList<>();

    @BeforeEach
    void tempDir() throws IOException {
        dir = Files.createTempDirectory("ibex-e2e-");
    }

    @AfterEach
    void cleanUp() throws IOException {
        for (var r : started) {
            r.process.destroyForcibly();
        }
        for (var r : started) {
            try {
                r.process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try (var paths = Files.walk(dir)) {
            for (var p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    // ---- commands without a role ------------------------------------------------------------------

    @Test
    void version_printsTheVersion_andExits0() throws Exception {
        var r = run(List.of("version"));
        assertEquals(0, r.code, r.output);
        assertTrue(r.output.strip().matches("\\d+\\.\\d+\\.\\d+([-+.][0-9A-Za-z.-]+)?"), r.output);
    }

    @Test
    void unknownCommand_exits2_withUsageOnStderr() throws Exception {
        var pb = new ProcessBuilder(bin(), "nonsense").redirectOutput(ProcessBuilder.Redirect.DISCARD);
        var p = pb.start();
        String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, p.exitValue(), stderr);
        assertTrue(stderr.contains("unknown command 'nonsense'"), stderr);
        assertTrue(stderr.contains("usage: ibex"), stderr);
        assertTrue(stderr.contains("ibex server"), stderr);
    }

    @Test
    void serverConfigWithAMisspelledKey_exits1_namingFileAndLine() throws Exception {
        Path conf = dir.resolve("bad.conf");
        Files.writeString(conf, "[HTTP]\nHost = \"127.0.0.1\"\nPrt = 10090\n");
        var r = run(List.of("server", "-c", conf.toString()));
        assertEquals(1, r.code, r.output);
        assertTrue(r.output.contains(conf + ":3"), r.output);
        assertTrue(r.output.contains("Prt"), r.output);
    }

    // ---- server and agent --------------------------------------------------------------------------

    @Test
    void script_runsOnTheAgent_withArgsAndStdin_andItsOutputIsServed() throws Exception {
        var ports = startServerAndAgent("e2e-host");
        String script = "#!/bin/sh\necho \"args: $1|$2\"\necho \"stdin: $(cat)\"\necho \"to stderr\" >&2\n";
        long id = create(ports, new JsonObject().add("title", "e2e").add("account", System.getProperty("user.name"))
                .add("script", script).add("args", "first,,second arg").add("stdin", "piped text")
                .add("action", "start").add("creator", "e2e").add("hosts", new JsonArray().add("e2e-host")));
        var task = awaitDone(ports, id);
        assertEquals("success", status(task, "e2e-host"), task::toString);
        assertEquals("args: first|second arg\nstdin: piped text\n", dat(ports, "/ibex/v1/task/" + id + "/host/e2e-host/stdout").asString());
        assertEquals("to stderr\n", dat(ports, "/ibex/v1/task/" + id + "/host/e2e-host/stderr").asString());
    }

    @Test
    void failingScript_isFailed_andStderrEndsWithItsExitStatus() throws Exception {
        var ports = startServerAndAgent("e2e-host");
        long id = create(ports, new JsonObject().add("title", "e2e").add("account", System.getProperty("user.name"))
                .add("script", "#!/bin/sh\necho broken >&2\nexit 3\n").add("action", "start").add("creator", "e2e")
                .add("hosts", new JsonArray().add("e2e-host")));
        var task = awaitDone(ports, id);
        assertEquals("failed", status(task, "e2e-host"), task::toString);
        String stderr = dat(ports, "/ibex/v1/task/" + id + "/host/e2e-host/stderr").asString();
        assertTrue(stderr.startsWith("broken\n"), stderr);
        assertTrue(stderr.strip().endsWith("ibex: exit status 3"), stderr);
    }

    @Test
    void sigterm_stopsTheServer_withinAFewSeconds() throws Exception {
        var server = startServer();
        int http = server.ports[0];
        assertEquals("pong", get(http, "/ping").body());
        server.process.destroy();
        assertTrue(server.process.waitFor(10, TimeUnit.SECONDS), "still running 10 s after SIGTERM:\n" + server.output());
        int code = server.process.exitValue();
        assertTrue(code == 143 || code == 0, "exit " + code + "\n" + server.output());
    }

    @Test
    void compact_isRefusedWhileTheServerRuns_thenShrinksTheStore_andTheTasksAreStillServed() throws Exception {
        var server = startServer();
        var ports = new Ports(server.ports[0], server.ports[1]);
        var ids = new ArrayList<Long>();
        for (int i = 0; i < 300; i++) {
            ids.add(create(ports, new JsonObject().add("title", "compact " + i).add("account", "root").add("script", "true")
                    .add("action", "pause").add("creator", "e2e").add("hosts", new JsonArray().add("c-" + i))));
        }
        String conf = dir.resolve("server.conf").toString();
        var refused = run(List.of("compact", "-c", conf));
        assertEquals(1, refused.code(), refused.output());
        assertTrue(refused.output().contains("stop the server first"), refused.output());

        server.process.destroy();
        assertTrue(server.process.waitFor(10, TimeUnit.SECONDS), server.output());
        Path file = dir.resolve("data/ibex.mv.db");
        long before = Files.size(file);
        var done = run(List.of("compact", "-c", conf));
        assertEquals(0, done.code(), done.output());
        long after = Files.size(file);
        // How much it shrinks is DatabaseTest's; the server's own stop may already compact a little.
        assertTrue(after <= before, before + " bytes before, " + after + " after");
        assertTrue(done.output().contains(String.format("%,d bytes before, %,d after", before, after)), done.output());

        var again = startServer();
        var ports2 = new Ports(again.ports[0], again.ports[1]);
        for (long id : List.of(ids.getFirst(), ids.getLast())) {
            var meta = dat(ports2, "/ibex/v1/task/" + id).asObject().get("meta").asObject();
            assertEquals(id, meta.getLong("id", 0));
        }
    }

    // ---- helpers -----------------------------------------------------------------------------------

    private record Ports(int http, int rpc) {
    }

    /** A process whose merged stdout and stderr are collected line by line on a thread. */
    private static final class Running {
        final Process process;
        final List<String> lines = new ArrayList<>();
        int[] ports;

        Running(Process process) {
            this.process = process;
            Thread.ofPlatform().daemon().start(() -> {
                try (var in = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String line; (line = in.readLine()) != null; ) {
                        synchronized (lines) {
                            lines.add(line);
                            lines.notifyAll();
                        }
                    }
                } catch (IOException e) {
                    // The process went away.
                }
            });
        }

        String output() {
            synchronized (lines) {
                return String.join("\n", lines);
            }
        }

        /** Waits for a line matching pattern (30 s at most) and returns its match. */
        Matcher await(Pattern pattern) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            int seen = 0;
            synchronized (lines) {
                while (true) {
                    for (; seen < lines.size(); seen++) {
                        var m = pattern.matcher(lines.get(seen));
                        if (m.find()) {
                            return m;
                        }
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0 || (!process.isAlive() && seen == lines.size())) {
                        return fail("no line matching /" + pattern + "/ (alive: " + process.isAlive() + "):\n" + output());
                    }
                    lines.wait(Math.max(1, Math.min(200, TimeUnit.NANOSECONDS.toMillis(left))));
                }
            }
        }
    }

    private record Result(int code, String output) {
    }

    private static String bin() {
        String bin = System.getProperty("ibex.bin");
        if (bin == null || !Files.isExecutable(Path.of(bin))) {
            fail("-Dibex.bin must name the built bin/ibex, got " + bin);
        }
        return bin;
    }

    private Running start(List<String> args) throws IOException {
        var cmd = new ArrayList<String>();
        cmd.add(bin());
        cmd.addAll(args);
        var r = new Running(new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start());
        started.add(r);
        return r;
    }

    private Result run(List<String> args) throws Exception {
        var r = start(args);
        assertTrue(r.process.waitFor(30, TimeUnit.SECONDS), "did not exit: " + args);
        r.process.getInputStream().close();
        Thread.sleep(50);
        // Let the reader thread drain what is left.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(2);
        String before;
        do {
            before = r.output();
            Thread.sleep(50);
        } while (!before.equals(r.output()) && System.nanoTime() < deadline);
        return new Result(r.process.exitValue(), r.output());
    }

    private Running startServer() throws Exception {
        Path conf = dir.resolve("server.conf");
        Files.writeString(conf, """
                [Log]
                Output = "stdout"

                [HTTP]
                Host = "127.0.0.1"
                Port = 0

                [BasicAuth]
                ibex = "e2e-pass"

                [RPC]
                Listen = "127.0.0.1:0"

                [Heartbeat]
                IP = "127.0.0.1"

                [DB]
                DBType = "h2"
                DSN = "%s"
                """.formatted(dir.resolve("data/ibex")));
        var server = start(List.of("server", "-c", conf.toString()));
        var m = server.await(READY);
        server.ports = new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))};
        return server;
    }

    private Ports startServerAndAgent(String host) throws Exception {
        var server = startServer();
        Path conf = dir.resolve("agentd.conf");
        Files.writeString(conf, """
                MetaDir = "%s"

                [Log]
                Output = "stdout"

                [Heartbeat]
                Interval = 200
                Servers = ["127.0.0.1:%d"]
                Host = "%s"
                """.formatted(dir.resolve("meta"), server.ports[1], host));
        start(List.of("agentd", "-c", conf.toString()));
        server.await(Pattern.compile("agent " + Pattern.quote(host) + " connected"));
        return new Ports(server.ports[0], server.ports[1]);
    }

    private static HttpResponse<String> get(int port, String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).header("Authorization", AUTH)
                .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    }

    private static JsonValue dat(Ports ports, String path) throws IOException, InterruptedException {
        var r = get(ports.http, path);
        assertEquals(200, r.statusCode(), r.body());
        var o = Json.parse(r.body()).asObject();
        assertEquals("", o.getString("err", null), r.body());
        return o.get("dat");
    }

    private static long create(Ports ports, JsonObject task) throws IOException, InterruptedException {
        var r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + ports.http + "/ibex/v1/tasks"))
                .header("Authorization", AUTH).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(task.toString())).timeout(Duration.ofSeconds(10)).build(),
                HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        assertEquals(200, r.statusCode(), r.body());
        var o = Json.parse(r.body()).asObject();
        assertEquals("", o.getString("err", null), r.body());
        return o.get("dat").asLong();
    }

    private static JsonObject awaitDone(Ports ports, long id) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        JsonObject task;
        do {
            task = dat(ports, "/ibex/v1/task/" + id).asObject();
            if (task.get("meta").asObject().getBoolean("done", false)) {
                return task;
            }
            Thread.sleep(100);
        } while (System.nanoTime() < deadline);
        return fail("task " + id + " not done after 30 s: " + task);
    }

    private static String status(JsonObject task, String host) {
        for (var h : task.get("hosts").asArray()) {
            if (host.equals(h.asObject().getString("host", ""))) {
                return h.asObject().getString("status", null);
            }
        }
        return null;
    }
}
