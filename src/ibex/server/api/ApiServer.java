package ibex.server.api;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import ibex.core.Counters;
import ibex.core.HostChange;
import ibex.core.Log;
import ibex.core.TaskLimits;
import ibex.core.TaskSpec;
import ibex.store.ActionStore;
import ibex.store.AuditStore;
import ibex.store.PinStore;
import ibex.store.StoreException;
import ibex.store.TaskStore;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.LongConsumer;
import javax.net.ssl.SSLContext;

/**
 * The HTTP API on {@code com.sun.net.httpserver}, one virtual thread per request. Paths, methods,
 * field names, envelope and status codes are the original's (reference §1), so Nightingale can
 * point at this server unchanged. {@code /ibex/v1} needs basic auth when accounts are configured.
 */
public final class ApiServer implements AutoCloseable {
    /** What the API needs from the rest of the server. */
    public record Deps(TaskStore tasks, ActionStore actions, AuditStore audit, PinStore pins, Consumer<List<HostChange>> push,
                       Function<TaskSpec, TaskStore.Start> firstStep, LongConsumer wake, InstantSource clock, Counters counters) {
    }

    /**
     * Listen address, accounts (user → password; empty = no auth), body and task limits, version
     * text, and the TLS context (null: plain HTTP).
     */
    public record Settings(String host, int port, Map<String, String> accounts, int maxBodyBytes, TaskLimits limits,
                           String version, SSLContext tls, boolean metricsAuth) {
    }

    private record Route(String method, String[] parts, Handler handler) {
    }

    @FunctionalInterface
    interface Handler {
        Http.Reply handle(Http.Call call) throws IOException;
    }

    private final Settings settings;
    private final List<Route> routes = new ArrayList<>();
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private HttpServer server;

    public ApiServer(Settings settings, Deps deps) {
        this.settings = settings;
        var tasks = new TaskRoutes(deps, settings.maxBodyBytes(), settings.limits());
        var hosts = new HostRoutes(deps, settings.maxBodyBytes());
        route("POST", "/ibex/v1/tasks", tasks::create);
        route("GET", "/ibex/v1/tasks", tasks::list);
        route("GET", "/ibex/v1/tasks/done-ids", tasks::doneIds);
        route("GET", "/ibex/v1/task/:id", tasks::get);
        route("PUT", "/ibex/v1/task/:id/action", tasks::action);
        route("GET", "/ibex/v1/task/:id/stdout", c -> tasks.output(c, TaskStore.Output.STDOUT));
        route("GET", "/ibex/v1/task/:id/stderr", c -> tasks.output(c, TaskStore.Output.STDERR));
        route("GET", "/ibex/v1/task/:id/state", tasks::state);
        route("GET", "/ibex/v1/task/:id/result", tasks::result);
        route("GET", "/ibex/v1/task/:id/stdout.txt", c -> tasks.text(c, TaskStore.Output.STDOUT));
        route("GET", "/ibex/v1/task/:id/stderr.txt", c -> tasks.text(c, TaskStore.Output.STDERR));
        route("GET", "/ibex/v1/task/:id/stdout.json", c -> tasks.json(c, TaskStore.Output.STDOUT));
        route("GET", "/ibex/v1/task/:id/stderr.json", c -> tasks.json(c, TaskStore.Output.STDERR));
        route("PUT", "/ibex/v1/task/:id/host/:host/action", hosts::action);
        route("GET", "/ibex/v1/task/:id/host/:host/output", hosts::output);
        route("GET", "/ibex/v1/task/:id/host/:host/stdout", c -> hosts.stream(c, TaskStore.Output.STDOUT));
        route("GET", "/ibex/v1/task/:id/host/:host/stderr", c -> hosts.stream(c, TaskStore.Output.STDERR));
        route("GET", "/ibex/v1/audit", c -> AuditRoute.list(c, deps.audit()));
        route("DELETE", "/ibex/v1/agent/:host/pin", c -> AuditRoute.forgetPin(c, deps));
        route("GET", "/metrics", new MetricsRoute(deps.counters())::serve);
        route("GET", "/ping", c -> new Http.TextReply(200, "pong"));
        route("GET", "/pid", c -> new Http.TextReply(200, Long.toString(ProcessHandle.current().pid())));
        route("GET", "/addr", c -> new Http.TextReply(200, addr(c.exchange().getRemoteAddress())));
        route("GET", "/version", c -> new Http.TextReply(200, settings.version()));
    }

    private void route(String method, String path, Handler h) {
        routes.add(new Route(method, path.substring(1).split("/"), h));
    }

    /** Binds and starts serving; returns the bound address (port 0 = any free port). */
    public InetSocketAddress start() throws IOException {
        var address = new InetSocketAddress(settings.host(), settings.port());
        if (settings.tls() != null) {
            var https = HttpsServer.create(address, 1024);
            https.setHttpsConfigurator(new HttpsConfigurator(settings.tls()));
            server = https;
        } else {
            server = HttpServer.create(address, 1024);
        }
        server.setExecutor(threads);
        server.createContext("/", this::serve);
        server.start();
        return server.getAddress();
    }

    private void serve(HttpExchange ex) {
        try (ex) {
            Http.Reply reply;
            try {
                reply = dispatch(ex);
            } catch (Http.Stop s) {
                reply = s.reply;
            } catch (StoreException e) {
                Log.warn("api", ex.getRequestMethod() + " " + ex.getRequestURI().getRawPath() + ": " + e.getMessage());
                reply = Http.err(503, "database unavailable: " + e.getMessage());
            } catch (RuntimeException e) {
                Log.error("api", ex.getRequestMethod() + " " + ex.getRequestURI().getRawPath(), e);
                reply = Http.err(500, "internal error: " + e.getClass().getSimpleName());
            }
            Http.send(ex, reply);
        } catch (IOException e) {
            Log.debug("api", "client went away: " + e.getMessage());
        }
    }

    private Http.Reply dispatch(HttpExchange ex) throws IOException {
        var path = ex.getRequestURI().getRawPath();
        var parts = (path.startsWith("/") ? path.substring(1) : path).split("/", -1);
        boolean pathMatched = false;
        for (var r : routes) {
            var params = match(r.parts(), parts);
            if (params == null) {
                continue;
            }
            pathMatched = true;
            if (!r.method().equals(ex.getRequestMethod())
                    && !("GET".equals(r.method()) && "HEAD".equals(ex.getRequestMethod()))) {
                continue;
            }
            String user = "";
            if (path.startsWith("/ibex/v1/") || path.equals("/metrics") && settings.metricsAuth()) {
                user = authenticate(ex);
                if (user == null) {
                    ex.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"Authorization Required\"");
                    return Http.err(401, "unauthorized: basic auth with an account of [BasicAuth] required");
                }
            }
            return r.handler().handle(new Http.Call(ex, params, user));
        }
        return pathMatched ? Http.err(405, "method " + ex.getRequestMethod() + " not allowed on " + path)
                : Http.err(404, "no route for " + path);
    }

    private static Map<String, String> match(String[] pattern, String[] parts) {
        if (pattern.length != parts.length) {
            return null;
        }
        var params = new HashMap<String, String>();
        for (int i = 0; i < pattern.length; i++) {
            if (pattern[i].startsWith(":")) {
                if (parts[i].isEmpty()) {
                    return null;
                }
                params.put(pattern[i].substring(1), java.net.URLDecoder.decode(parts[i].replace("+", "%2B"), StandardCharsets.UTF_8));
            } else if (!pattern[i].equals(parts[i])) {
                return null;
            }
        }
        return params;
    }

    /** The user name, "" when no accounts are configured, null when the credentials do not match. */
    private String authenticate(HttpExchange ex) {
        if (settings.accounts().isEmpty()) {
            return "";
        }
        var header = ex.getRequestHeaders().getFirst("Authorization");
        if (header == null || !header.regionMatches(true, 0, "Basic ", 0, 6)) {
            return null;
        }
        String decoded;
        try {
            decoded = new String(Base64.getDecoder().decode(header.substring(6).trim()), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            return null;
        }
        int colon = decoded.indexOf(':');
        if (colon < 0) {
            return null;
        }
        var user = decoded.substring(0, colon);
        var given = decoded.substring(colon + 1).getBytes(StandardCharsets.UTF_8);
        // Compare against every account so the time taken does not tell which user names exist.
        String matched = null;
        for (var e : settings.accounts().entrySet()) {
            boolean userOk = MessageDigest.isEqual(e.getKey().getBytes(StandardCharsets.UTF_8), user.getBytes(StandardCharsets.UTF_8));
            boolean passOk = MessageDigest.isEqual(e.getValue().getBytes(StandardCharsets.UTF_8), given);
            if (userOk & passOk) {
                matched = e.getKey();
            }
        }
        return matched;
    }

    private static String addr(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    @Override
    public void close() {
        if (server != null) {
            server.stop(0);
        }
        threads.shutdownNow();
    }
}
