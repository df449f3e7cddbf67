package ibex.server.api;

import com.eclipsesource.json.JsonArray;
import com.eclipsesource.json.JsonObject;
import com.eclipsesource.json.JsonValue;
import ibex.core.TaskHost;
import ibex.core.TaskMeta;
import ibex.core.TaskSpec;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

/** Records to the original's JSON field names, and the create request from JSON. */
final class Mapping {
    // Go's time.Time JSON form: RFC 3339 with the local offset, e.g. 2024-08-11T11:01:00+08:00.
    private static final DateTimeFormatter RFC3339 = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ssXXX")
            .withZone(ZoneId.systemDefault());

    private Mapping() {
        throw new AssertionError();
    }

    static JsonObject meta(TaskMeta m) {
        return new JsonObject()
                .add("id", m.id())
                .add("title", m.title())
                .add("account", m.account())
                .add("batch", m.batch())
                .add("tolerance", m.tolerance())
                .add("timeout", m.timeout())
                .add("pause", m.pause())
                .add("script", m.script())
                .add("args", m.args())
                .add("stdin", m.stdin())
                .add("creator", m.creator())
                .add("created", RFC3339.format(m.created()))
                .add("done", m.done());
    }

    static JsonObject host(TaskHost h) {
        return new JsonObject()
                .add("id", h.id())
                .add("host", h.host())
                .add("status", h.status().wire())
                .add("stdout", h.stdout())
                .add("stderr", h.stderr());
    }

    static JsonArray hosts(List<TaskHost> hosts) {
        var a = new JsonArray();
        hosts.forEach(h -> a.add(host(h)));
        return a;
    }

    /** The create body: the original's field names; wrong JSON types are a 400 naming the field. */
    static TaskSpec.Request request(JsonObject o) {
        return new TaskSpec.Request(str(o, "title"), str(o, "account"), amount(o, "batch"), amount(o, "tolerance"),
                integer(o, "timeout"), str(o, "pause"), str(o, "script"), str(o, "args"), str(o, "stdin"),
                str(o, "action"), str(o, "creator"), strings(o, "hosts"));
    }

    private static String str(JsonObject o, String name) {
        var v = o.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isString()) {
            throw typeError(name, "a string", v);
        }
        return v.asString();
    }

    private static Integer integer(JsonObject o, String name) {
        var v = o.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isNumber()) {
            throw typeError(name, "an integer", v);
        }
        double d = v.asDouble();
        if (d != Math.rint(d) || d > Integer.MAX_VALUE || d < Integer.MIN_VALUE) {
            throw typeError(name, "an integer", v);
        }
        return (int) d;
    }

    /** An integer as the original takes it, or a string: a count or a percentage ("25%"). */
    private static TaskSpec.Amount amount(JsonObject o, String name) {
        var v = o.get(name);
        if (v != null && v.isString()) {
            return TaskSpec.Amount.parse(v.asString())
                    .orElseThrow(() -> typeError(name, "an integer or a percentage such as \"25%\"", v));
        }
        var n = integer(o, name);
        return n == null ? null : TaskSpec.Amount.count(n);
    }

    private static List<String> strings(JsonObject o, String name) {
        var v = o.get(name);
        if (v == null || v.isNull()) {
            return null;
        }
        if (!v.isArray()) {
            throw typeError(name, "an array of strings", v);
        }
        var out = new ArrayList<String>();
        for (var e : v.asArray()) {
            if (!e.isString()) {
                throw typeError(name, "an array of strings", e);
            }
            out.add(e.asString());
        }
        return out;
    }

    private static Http.Stop typeError(String name, String expected, JsonValue got) {
        var shown = got.toString();
        if (shown.length() > 40) {
            shown = shown.substring(0, 40) + "...";
        }
        return Http.stop(400, "json body invalid: " + name + " must be " + expected + ", got " + shown);
    }
}
