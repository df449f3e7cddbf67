package ibex.server.api;

import com.eclipsesource.json.Json;
import ibex.core.HostAction;
import ibex.core.TaskMeta;
import ibex.store.TaskStore;
import java.io.IOException;

/** The per-host routes: action, output row, stdout, stderr. */
final class HostRoutes {
    private final ApiServer.Deps deps;
    private final int maxBody;

    HostRoutes(ApiServer.Deps deps, int maxBody) {
        this.deps = deps;
        this.maxBody = maxBody;
    }

    /** PUT /ibex/v1/task/:id/host/:host/action {"action": ignore|kill|redo} */
    Http.Reply action(Http.Call c) throws IOException {
        var meta = meta(c);
        var host = c.param("host");
        // The original checks "finished" before it reads the body.
        if (meta.done()) {
            return Http.err(200, "task already finished, no more taskAction can do");
        }
        var v = Http.jsonObject(Http.body(c, maxBody)).get("action");
        var action = v != null && v.isString() ? HostAction.parse(v.asString()) : java.util.Optional.<HostAction>empty();
        if (action.isEmpty()) {
            // The original silently does nothing for an unknown host action.
            return Http.ok();
        }
        var audit = AuditRoute.entry(c, deps, "host " + action.get().wire(), meta.id(), java.util.List.of(host), null, "");
        var outcome = deps.actions().hostAction(meta.id(), host, action.get(), deps.clock().millis(), audit);
        if (outcome.isEmpty()) {
            return Http.err(200, "task already finished, no more taskAction can do");
        }
        var o = outcome.get();
        if (!o.err().isEmpty()) {
            return Http.err(200, o.err());
        }
        AuditRoute.log(audit, java.util.List.of(host));
        deps.push().accept(o.changes());
        deps.wake().accept(meta.id());
        return o.dat() == null ? Http.ok() : Http.dat(Json.value(o.dat()));
    }

    /** GET /ibex/v1/task/:id/host/:host/output → the whole host row. */
    Http.Reply output(Http.Call c) {
        var meta = meta(c);
        return Http.dat(Mapping.host(row(c, meta, TaskStore.Output.BOTH)));
    }

    /** GET /ibex/v1/task/:id/host/:host/stdout|stderr → the output string. */
    Http.Reply stream(Http.Call c, TaskStore.Output which) {
        var meta = meta(c);
        var h = row(c, meta, which);
        return Http.dat(Json.value(which == TaskStore.Output.STDOUT ? h.stdout() : h.stderr()));
    }

    private ibex.core.TaskHost row(Http.Call c, TaskMeta meta, TaskStore.Output which) {
        var host = c.param("host");
        // The original dereferences nil here and answers an empty 500.
        return deps.tasks().host(meta.id(), host, which)
                .orElseThrow(() -> Http.stop(404, "task " + meta.id() + ": host '" + host + "' is not part of this task"));
    }

    private TaskMeta meta(Http.Call c) {
        return TaskRoutes.meta(c, deps.tasks());
    }
}
