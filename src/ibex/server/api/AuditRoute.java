package ibex.server.api;

import com.eclipsesource.json.JsonArray;
import com.eclipsesource.json.JsonObject;
import ibex.store.AuditStore;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.HexFormat;
import java.util.List;

/**
 * The audit trail: {@code GET /ibex/v1/audit?task=ID&limit=100} reads it back (ours; the
 * original had none), and {@link #record} writes an entry and its log line.
 */
final class AuditRoute {
    private AuditRoute() {
        throw new AssertionError();
    }

    static Http.Reply list(Http.Call c, AuditStore audit) {
        long task = Query.intParam(c, "task", 0);
        int limit = Math.max(1, Math.min(1000, Query.intParam(c, "limit", 100)));
        var a = new JsonArray();
        for (var e : audit.list(task, limit)) {
            a.add(new JsonObject()
                    .add("seq", e.seq())
                    .add("at", Instant.ofEpochMilli(e.at()).toString())
                    .add("user", e.actor())
                    .add("remote", e.remote())
                    .add("action", e.action())
                    .add("task_id", e.taskId())
                    .add("hosts", e.hosts())
                    .add("script_sha256", e.scriptSha256())
                    .add("detail", e.detail()));
        }
        return Http.dat(a);
    }

    /**
     * {@code DELETE /ibex/v1/agent/:host/pin}: releases a host name pinned to an agent's key (a
     * reinstalled host has a new key); the next agent that connects as the host pins its own.
     */
    static Http.Reply forgetPin(Http.Call c, ApiServer.Deps deps) {
        var host = c.param("host");
        boolean removed = deps.pins().forget(host);
        record(c, deps, "forget pin", 0, List.of(host), null, removed ? "released" : "was not pinned");
        return removed ? Http.ok() : Http.err(404, "host '" + host + "' is not pinned");
    }

    /** Writes one audit entry for a request, and its log line. */
    static void record(Http.Call c, ApiServer.Deps deps, String action, long taskId, List<String> hosts, String script, String detail) {
        var e = entry(c, deps, action, taskId, hosts, script, detail);
        deps.audit().append(e);
        log(e, hosts);
    }

    /**
     * The audit entry for a request; a creation or an action hands it to the store, which writes it
     * in the same transaction (TaskStore.create, ActionStore).
     */
    static AuditStore.Entry entry(Http.Call c, ApiServer.Deps deps, String action, long taskId, List<String> hosts, String script,
                                  String detail) {
        var remote = c.exchange().getRemoteAddress().getAddress().getHostAddress();
        var sha = script == null ? "" : sha256(script);
        return new AuditStore.Entry(0, deps.clock().millis(), c.user(), remote, action, taskId, String.join(",", hosts), sha, detail);
    }

    /** The log line of a stored entry; {@code hosts} as given (the entry holds them joined). */
    static void log(AuditStore.Entry e, List<String> hosts) {
        ibex.core.Log.info("audit", "user '" + e.actor() + "' from " + e.remote() + ": " + e.action() + " task " + e.taskId()
                + (hosts.isEmpty() ? "" : " hosts " + (hosts.size() > 5 ? hosts.subList(0, 5) + "+" + (hosts.size() - 5) : hosts))
                + (e.scriptSha256().isEmpty() ? "" : " script sha256 " + e.scriptSha256()) + (e.detail().isEmpty() ? "" : " (" + e.detail() + ")"));
    }

    static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is part of every JDK", e);
        }
    }
}
