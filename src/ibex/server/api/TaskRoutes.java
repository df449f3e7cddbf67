package ibex.server.api;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonArray;
import com.eclipsesource.json.JsonObject;
import ibex.core.HostChange;
import ibex.core.HostStatus;
import ibex.core.InvalidTask;
import ibex.core.TaskAction;
import ibex.core.TaskHost;
import ibex.core.TaskLimits;
import ibex.core.TaskMeta;
import ibex.core.TaskSpec;
import ibex.store.TaskStore;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;

/** The task-level routes: create, list, done-ids, one task, its action, its output. */
final class TaskRoutes {
    private static final int MAX_LIMIT = 1000;
    private final ApiServer.Deps deps;
    private final int maxBody;
    private final TaskLimits limits;

    TaskRoutes(ApiServer.Deps deps, int maxBody, TaskLimits limits) {
        this.deps = deps;
        this.maxBody = maxBody;
        this.limits = limits;
    }

    /** POST /ibex/v1/tasks → {"dat": id}. */
    Http.Reply create(Http.Call c) throws IOException {
        var body = Http.jsonObject(Http.body(c, maxBody));
        TaskSpec spec;
        try {
            spec = TaskSpec.from(Mapping.request(body), limits);
        } catch (InvalidTask e) {
            return Http.err(e.isBadRequest() ? 400 : 200, e.getMessage());
        }
        var now = deps.clock().instant();
        var start = deps.firstStep().apply(spec);
        var audit = AuditRoute.entry(c, deps, "create", 0, spec.hosts(), spec.script(), "creator " + spec.creator() + ", account "
                + spec.account() + ", action " + spec.action() + ", " + spec.hosts().size() + " host(s), title '" + spec.title() + "'");
        long id = deps.tasks().create(spec, now, start, audit);
        var started = new ArrayList<HostChange>(start.running().size());
        for (var h : start.running()) {
            started.add(HostChange.start(h, id, now.toEpochMilli()));
        }
        // Pushed as soon as the creation (its audit row included) commits; the scheduler then
        // looks after the rest of the task.
        deps.push().accept(started);
        // A task created paused gives the scheduler nothing to do (nothing started, and its passes
        // leave paused tasks alone) until a start action, which wakes it; a pass per paused
        // creation was pure cost (two queries: new orphans, owned tasks).
        if (spec.action() == TaskAction.START) {
            deps.wake().accept(id);
        }
        AuditRoute.log(audit.forTask(id), spec.hosts());
        return Http.dat(Json.value(id));
    }

    /** GET /ibex/v1/tasks?query=&creator=&days=7&limit=20&p=1 */
    Http.Reply list(Http.Call c) {
        int limit = Query.intParam(c, "limit", 20);
        int p = Query.intParam(c, "p", 1);
        int days = Query.intParam(c, "days", 7);
        var q = c.query("query");
        var words = q == null ? List.<String>of() : Arrays.stream(q.trim().split("\\s+")).filter(w -> !w.isEmpty()).toList();
        int pageSize = limit <= 0 ? 10 : Math.min(limit, MAX_LIMIT);
        int offset = Math.max(0, (p - 1)) * pageSize;
        var since = deps.clock().instant().minus(Duration.ofDays(Math.max(0, days)));
        var page = deps.tasks().list(words, c.query("creator"), since, pageSize, offset);
        var list = new JsonArray();
        page.list().forEach(m -> list.add(Mapping.meta(m)));
        return Http.dat(new JsonObject().add("total", page.total()).add("list", list));
    }

    /** GET /ibex/v1/tasks/done-ids?ids=1,2,3 (unknown ids count as done, as in the original). */
    Http.Reply doneIds(Http.Call c) {
        var raw = c.query("ids");
        var ids = new ArrayList<Long>();
        if (raw != null) {
            for (var s : raw.split(",")) {
                try {
                    ids.add(Long.parseLong(s.trim()));
                } catch (NumberFormatException e) {
                    // The original skips ids it cannot parse.
                }
            }
        }
        if (ids.isEmpty()) {
            return Http.err(200, "arg(ids) empty");
        }
        if (ids.size() > 10_000) {
            return Http.err(400, "arg(ids) has " + ids.size() + " ids, more than the limit of 10000");
        }
        var list = new JsonArray();
        deps.tasks().doneIds(ids).forEach(list::add);
        return Http.dat(new JsonObject().add("list", list));
    }

    /** GET /ibex/v1/task/:id → meta, hosts (id, host, status), action ("" when done). */
    Http.Reply get(Http.Call c) {
        var meta = meta(c);
        var action = deps.tasks().action(meta.id()).map(TaskAction::wire).orElse("");
        return Http.dat(new JsonObject()
                .add("meta", Mapping.meta(meta))
                .add("hosts", Mapping.hosts(deps.tasks().hosts(meta.id(), TaskStore.Output.NONE)))
                .add("action", action));
    }

    /** PUT /ibex/v1/task/:id/action {"action": start|pause|cancel|kill} */
    Http.Reply action(Http.Call c) throws IOException {
        var meta = meta(c);
        var body = Http.jsonObject(Http.body(c, maxBody));
        var v = body.get("action");
        var action = v != null && v.isString() ? TaskAction.parse(v.asString()) : java.util.Optional.<TaskAction>empty();
        if (meta.done()) {
            return Http.err(200, "task already finished, no more action can do");
        }
        if (action.isEmpty()) {
            return Http.err(200, "action invalid");
        }
        var audit = AuditRoute.entry(c, deps, action.get().wire(), meta.id(), List.of(), null, "");
        var outcome = deps.actions().taskAction(meta.id(), action.get(), deps.clock().millis(), audit);
        if (outcome.isEmpty()) {
            return Http.err(200, "task already finished, no more action can do");
        }
        AuditRoute.log(audit, List.of());
        deps.push().accept(outcome.get().changes());
        deps.wake().accept(meta.id());
        return Http.ok();
    }

    /** GET /ibex/v1/task/:id/stdout|stderr → every host with one output field filled. */
    Http.Reply output(Http.Call c, TaskStore.Output which) {
        var meta = meta(c);
        return Http.dat(Mapping.hosts(deps.tasks().hosts(meta.id(), which)));
    }

    /** GET /ibex/v1/task/:id/state → the action, or "done". */
    Http.Reply state(Http.Call c) {
        var meta = meta(c);
        return Http.dat(Json.value(deps.tasks().action(meta.id()).map(TaskAction::wire).orElse("done")));
    }

    /** GET /ibex/v1/task/:id/result → {status: [hosts]}. */
    Http.Reply result(Http.Call c) {
        var meta = meta(c);
        var byStatus = new LinkedHashMap<HostStatus, JsonArray>();
        for (var h : deps.tasks().hosts(meta.id(), TaskStore.Output.NONE)) {
            byStatus.computeIfAbsent(h.status(), s -> new JsonArray()).add(h.host());
        }
        var o = new JsonObject();
        byStatus.forEach((s, hosts) -> o.add(s.wire(), hosts));
        return Http.dat(o);
    }

    /** GET /ibex/v1/task/:id/stdout.txt: "host:\n" + output per host, hosts joined by a blank line. */
    Http.Reply text(Http.Call c, TaskStore.Output which) {
        long id = Http.id(c);
        if (deps.tasks().meta(id).isEmpty()) {
            return new Http.TextReply(404, "no such task");
        }
        var parts = new ArrayList<String>();
        for (var h : deps.tasks().hosts(id, which)) {
            parts.add(h.host() + ":\n" + pick(h, which));
        }
        return new Http.TextReply(200, String.join("\n\n", parts));
    }

    /** GET /ibex/v1/task/:id/stdout.json[?host=h] → [{"host":…, "stdout":…}]. */
    Http.Reply json(Http.Call c, TaskStore.Output which) {
        var meta = meta(c);
        var host = c.query("host");
        var key = which == TaskStore.Output.STDOUT ? "stdout" : "stderr";
        List<TaskHost> hosts;
        if (host == null || host.isEmpty()) {
            hosts = deps.tasks().hosts(meta.id(), which);
        } else {
            var one = deps.tasks().host(meta.id(), host, which);
            if (one.isEmpty()) {
                // The original's text, typo included: clients may match on it.
                return Http.err(200, "task: " + meta.id() + ", host(" + host + ") not eixsts");
            }
            hosts = List.of(one.get());
        }
        var a = new JsonArray();
        hosts.forEach(h -> a.add(new JsonObject().add("host", h.host()).add(key, pick(h, which))));
        return Http.dat(a);
    }

    private static String pick(TaskHost h, TaskStore.Output which) {
        return which == TaskStore.Output.STDOUT ? h.stdout() : h.stderr();
    }

    private TaskMeta meta(Http.Call c) {
        return meta(c, deps.tasks());
    }

    /** The task named by the path, or the original's 404 "no such task meta". */
    static TaskMeta meta(Http.Call c, TaskStore tasks) {
        long id = Http.id(c);
        return tasks.meta(id).orElseThrow(() -> Http.stop(404, "no such task meta"));
    }
}
