package bench;

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
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A real {@code bin/ibex server} or {@code bin/ibex agentd} process as the benchmark runs it:
 * config written to a scratch directory, log to a file, ports read from the startup line, and the
 * server's HTTP API (basic auth ibex:ibex) for tasks and /metrics.
 */
final class Ibex implements AutoCloseable {
    static final String AUTH = "Basic " + Base64.getEncoder().encodeToString("ibex:ibex".getBytes(StandardCharsets.UTF_8));
    private static final Pattern READY = Pattern.compile("server ready: http 127\\.0\\.0\\.1:(\\d+), agents 127\\.0\\.0\\.1:(\\d+)");
    static final HttpClient HTTP = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY)
            .connectTimeout(Duration.ofSeconds(5)).build();

    final Process process;
    final Path dir;
    final Path log;
    int httpPort;
    int rpcPort;

    private Ibex(Process process, Path dir, Path log) {
        this.process = process;
        this.dir = dir;
        this.log = log;
    }

    long pid() {
        return process.pid();
    }

    /** Starts a server; {@code db} is the [DB] section body. */
    static Ibex server(Path bin, Path dir, String db, int heartbeatMs, Map<String, String> env) throws IOException {
        Files.createDirectories(dir);
        var conf = dir.resolve("server.conf");
        Files.writeString(conf, """
                [Log]
                Output = "stdout"
                Level = "INFO"

                [HTTP]
                Host = "127.0.0.1"
                Port = 0

                [BasicAuth]
                ibex = "ibex"

                [RPC]
                Listen = "127.0.0.1:0"

                [Heartbeat]
                IP = "127.0.0.1"
                Interval = %d

                [Scheduler]
                # P5 creates tasks for an agent that is stopped on purpose, then starts it.
                NoAgentGrace = 600

                [DB]
                %s
                """.formatted(heartbeatMs, db));
        var log = dir.resolve("server.log");
        var pb = new ProcessBuilder(bin.toString(), "server", "-c", conf.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().putAll(env);
        var s = new Ibex(pb.start(), dir, log);
        long deadline = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < deadline) {
            var m = READY.matcher(Files.readString(log));
            if (m.find()) {
                s.httpPort = Integer.parseInt(m.group(1));
                s.rpcPort = Integer.parseInt(m.group(2));
                return s;
            }
            if (!s.process.isAlive()) {
                throw new IllegalStateException("server exited " + s.process.exitValue() + ":\n" + Files.readString(log));
            }
            Procs.sleep(50);
        }
        s.close();
        throw new IllegalStateException("server not ready in 60 s; log " + log);
    }

    static String h2(Path dir) {
        return "DBType = \"h2\"\nDSN = \"" + dir.resolve("data/ibex") + "\"\n";
    }

    static String mysql(String database) {
        return "DBType = \"mysql\"\nDSN = \"jdbc:mysql://127.0.0.1:3306/" + database + "?user=root&sslMode=DISABLED\"\n";
    }

    /** Starts a real agent for {@code host}, heartbeating every {@code intervalMs}. */
    static Ibex agent(Path bin, Path dir, int serverRpcPort, String host, int intervalMs, Map<String, String> env) throws IOException {
        Files.createDirectories(dir);
        var conf = dir.resolve("agentd.conf");
        Files.writeString(conf, """
                MetaDir = "%s"

                [Log]
                Output = "stdout"
                Level = "INFO"

                [Heartbeat]
                Interval = %d
                Servers = ["127.0.0.1:%d"]
                Host = "%s"
                """.formatted(dir.resolve("meta"), intervalMs, serverRpcPort, host));
        var log = dir.resolve("agentd.log");
        var pb = new ProcessBuilder(bin.toString(), "agentd", "-c", conf.toString()).redirectErrorStream(true)
                .redirectOutput(log.toFile());
        pb.environment().putAll(env);
        return new Ibex(pb.start(), dir, log);
    }

    String base() {
        return "http://127.0.0.1:" + httpPort;
    }

    HttpResponse<String> send(String method, String path, String body) {
        var b = HttpRequest.newBuilder(URI.create(base() + path)).timeout(Duration.ofSeconds(60)).header("Authorization", AUTH)
                .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        if (body != null) {
            b.header("Content-Type", "application/json");
        }
        try {
            return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new UncheckedIOException(method + " " + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** POST /ibex/v1/tasks; returns the id. */
    long create(String title, String script, List<String> hosts, String action, int batch, int timeout) {
        var h = new StringBuilder();
        for (var host : hosts) {
            h.append(h.isEmpty() ? "" : ",").append('"').append(host).append('"');
        }
        var body = "{\"title\":" + json(title) + ",\"account\":" + json(System.getProperty("user.name"))
                + ",\"batch\":" + batch + ",\"tolerance\":0,\"timeout\":" + timeout + ",\"pause\":\"\",\"script\":" + json(script)
                + ",\"args\":\"\",\"action\":\"" + action + "\",\"creator\":\"bench\",\"hosts\":[" + h + "]}";
        var r = send("POST", "/ibex/v1/tasks", body);
        var m = Pattern.compile("\"dat\":(\\d+)").matcher(r.body());
        if (r.statusCode() != 200 || !m.find()) {
            throw new IllegalStateException("create failed: " + r.statusCode() + " " + r.body());
        }
        return Long.parseLong(m.group(1));
    }

    boolean done(long id) {
        return send("GET", "/ibex/v1/task/" + id, null).body().contains("\"done\":true");
    }

    static String json(String s) {
        var b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                default -> b.append(c);
            }
        }
        return b.append('"').toString();
    }

    /** One scrape of /metrics: "name" or "name{label=\"v\"}" → value. */
    Map<String, Double> metrics() {
        var r = send("GET", "/metrics", null);
        if (r.statusCode() != 200) {
            throw new IllegalStateException("/metrics: " + r.statusCode() + " " + r.body());
        }
        var out = new HashMap<String, Double>();
        for (var line : r.body().split("\n")) {
            if (!line.isEmpty() && !line.startsWith("#")) {
                int sp = line.lastIndexOf(' ');
                out.put(line.substring(0, sp), Double.parseDouble(line.substring(sp + 1)));
            }
        }
        return out;
    }

    /** A quantile (0..1) of a /metrics histogram between two scrapes, in ms (bucket upper bound). */
    static double histogramQuantileMs(Map<String, Double> before, Map<String, Double> after, String metric, double q) {
        var bounds = new java.util.TreeMap<Double, Double>();
        for (var e : after.entrySet()) {
            if (e.getKey().startsWith(metric + "_bucket{le=\"")) {
                var le = e.getKey().substring(metric.length() + 12, e.getKey().length() - 2);
                double bound = le.equals("+Inf") ? Double.POSITIVE_INFINITY : Double.parseDouble(le);
                bounds.put(bound, e.getValue() - before.getOrDefault(e.getKey(), 0.0));
            }
        }
        double total = bounds.isEmpty() ? 0 : bounds.lastEntry().getValue();
        if (total <= 0) {
            return Double.NaN;
        }
        for (var e : bounds.entrySet()) {
            if (e.getValue() >= q * total) {
                return e.getKey() * 1000;
            }
        }
        return Double.NaN;
    }

    static double delta(Map<String, Double> before, Map<String, Double> after, String name) {
        return after.getOrDefault(name, 0.0) - before.getOrDefault(name, 0.0);
    }

    @Override
    public void close() {
        Procs.stop(process);
    }
}
