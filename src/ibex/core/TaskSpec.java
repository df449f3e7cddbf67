package ibex.core;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A task creation request after the original's clean-up rules (reference §1.4): hosts trimmed,
 * blank and '#' entries dropped, duplicates merged in order; the title gets " FH: first-host";
 * a timeout of 0 becomes 30 s and may not pass five days.
 *
 * <p>Unlike the original, {@code args} is not screened for quotes or '&lt;': the agent passes arguments
 * as argv, never through a shell, so they reach the script verbatim. Title and pause keep the screen
 * because clients show them as HTML.
 */
public record TaskSpec(String title, String account, int batch, int tolerance, int timeout, String pause,
                       String script, String args, String stdin, TaskAction action, String creator,
                       List<String> hosts) {

    public static final int DEFAULT_TIMEOUT = 30;
    public static final int MAX_TIMEOUT = 5 * 24 * 3600;
    public static final int MAX_HOST_LENGTH = 128;
    /** A Unix user name; compiled once, not per creation (String.matches compiles each call). */
    private static final Pattern ACCOUNT = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\\$?");

    public TaskSpec {
        hosts = List.copyOf(hosts);
    }

    /** A batch or tolerance as given: a count, or a percentage of the task's hosts ("25%"). */
    public record Amount(int value, boolean percent) {
        public static Amount count(int n) {
            return new Amount(n, false);
        }

        /** "25%" or "3"; empty when the text is neither. */
        public static java.util.Optional<Amount> parse(String text) {
            var t = text.strip();
            boolean pct = t.endsWith("%");
            var digits = pct ? t.substring(0, t.length() - 1).strip() : t;
            if (digits.isEmpty() || digits.length() > 9 || !digits.chars().allMatch(c -> c >= '0' && c <= '9')) {
                return java.util.Optional.empty();
            }
            return java.util.Optional.of(new Amount(Integer.parseInt(digits), pct));
        }
    }

    /** The raw request fields; null where the JSON had none. */
    public record Request(String title, String account, Amount batch, Amount tolerance, Integer timeout,
                          String pause, String script, String args, String stdin, String action,
                          String creator, List<String> hosts) {
    }

    /** {@link #from(Request, TaskLimits)} with the default limits. */
    public static TaskSpec from(Request r) {
        return from(r, TaskLimits.DEFAULT);
    }

    /**
     * Validates in the original's order: required fields and hosts (400), then the rest (200 + err).
     * A limit exceeded is refused with a message naming the limit and the value.
     */
    public static TaskSpec from(Request r, TaskLimits limits) {
        require(r.title(), "Title");
        require(r.account(), "Account");
        require(r.script(), "Script");
        require(r.action(), "Action");
        require(r.creator(), "Creator");
        if (r.hosts() == null) {
            throw InvalidTask.badRequest("json body invalid: Key: 'TaskForm.Hosts' Error:Field validation for 'Hosts' failed on the 'required' tag");
        }
        var hosts = new LinkedHashSet<String>();
        for (var h : r.hosts()) {
            var t = h == null ? "" : h.strip();
            if (!t.isEmpty() && !t.startsWith("#")) {
                hosts.add(t);
            }
        }
        if (hosts.isEmpty()) {
            throw InvalidTask.badRequest("arg(hosts) empty");
        }
        if (hosts.size() > limits.maxHosts()) {
            throw InvalidTask.badRequest("arg(hosts) has " + hosts.size() + " hosts, more than the limit of " + limits.maxHosts());
        }
        limit("script", r.script(), limits.maxScriptBytes());
        limit("args", r.args(), limits.maxArgsBytes());
        limit("stdin", r.stdin(), limits.maxStdinBytes());
        limit("title", r.title(), 200);
        limit("pause", r.pause(), 64 * 1024);
        limit("creator", r.creator(), 64);
        limit("account", r.account(), 64);
        for (var h : hosts) {
            checkHost(h);
        }

        int batch = amount(r.batch(), "batch", hosts.size(), true);
        int tolerance = amount(r.tolerance(), "tolerance", hosts.size(), false);
        int timeout = nonNegative(r.timeout(), "timeout");
        if (timeout == 0) {
            timeout = DEFAULT_TIMEOUT;
        }
        if (timeout > MAX_TIMEOUT) {
            throw InvalidTask.rejected("arg(timeout) longer than five days");
        }
        var action = TaskAction.parse(r.action())
                .filter(a -> a == TaskAction.START || a == TaskAction.PAUSE)
                .orElseThrow(() -> InvalidTask.rejected("arg(action) should be start or pause, got '" + r.action() + "'"));

        var pause = orEmpty(r.pause()).replace('，', ',').replace(" ", "");
        checkSafe(pause, "pause");
        var title = r.title();
        int fh = title.indexOf(" FH: ");
        if (fh >= 0) {
            title = title.substring(0, fh);
        }
        checkSafe(title, "title");
        var first = hosts.iterator().next();
        title = title + " FH: " + first;
        // The original turns a full-width comma into ',' for its ",," form; a JSON array is taken as written.
        var args = orEmpty(r.args()).startsWith("[") ? r.args() : orEmpty(r.args()).replace('，', ',');
        if (!ACCOUNT.matcher(r.account().strip()).matches()) {
            throw InvalidTask.rejected("arg(account) '" + r.account() + "' is not a valid user name");
        }
        return new TaskSpec(title, r.account().strip(), batch, tolerance, timeout, pause, r.script(), args,
                orEmpty(r.stdin()), action, r.creator(), List.copyOf(hosts));
    }

    /** Host names are identifiers: printable, no spaces or separators, at most 128 characters. */
    public static void checkHost(String h) {
        if (h.isEmpty()) {
            throw InvalidTask.rejected("host name is empty");
        }
        if (h.length() > MAX_HOST_LENGTH) {
            throw InvalidTask.rejected("host '" + h.substring(0, 32) + "...' is longer than " + MAX_HOST_LENGTH + " characters");
        }
        for (int i = 0; i < h.length(); i++) {
            char c = h.charAt(i);
            if (c <= ' ' || c == 0x7f || c == ',' || c == '/' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '\\') {
                throw InvalidTask.rejected("host '" + h + "' has a character that is not allowed in a host name");
            }
        }
    }

    private static void limit(String name, String value, int maxBytes) {
        if (value == null) {
            return;
        }
        int bytes = value.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (bytes > maxBytes) {
            throw InvalidTask.badRequest("arg(" + name + ") is " + bytes + " bytes, more than the limit of " + maxBytes + " bytes");
        }
    }

    private static void require(String v, String field) {
        if (v == null || v.isEmpty()) {
            throw InvalidTask.badRequest("json body invalid: Key: 'TaskForm." + field + "' Error:Field validation for '"
                    + field + "' failed on the 'required' tag");
        }
    }

    /**
     * A count as the original takes it, or a percentage of the hosts: a batch rounds up (25% of 10
     * hosts runs 3 at a time; at least 1), a tolerance rounds down (10% of 5 hosts tolerates none).
     */
    private static int amount(Amount a, String name, int hosts, boolean roundUp) {
        if (a == null) {
            return 0;
        }
        if (!a.percent()) {
            return nonNegative(a.value(), name);
        }
        if (a.value() > 100 || (roundUp && a.value() == 0)) {
            throw InvalidTask.rejected("arg(" + name + ") percentage must be " + (roundUp ? "1" : "0") + "%..100%, got " + a.value() + "%");
        }
        long scaled = (long) hosts * a.value();
        return (int) (roundUp ? Math.max(1, (scaled + 99) / 100) : scaled / 100);
    }

    private static int nonNegative(Integer v, String name) {
        if (v == null) {
            return 0;
        }
        if (v < 0) {
            throw InvalidTask.rejected("arg(" + name + ") should be nonnegative");
        }
        return v;
    }

    private static String orEmpty(String s) {
        return s == null ? "" : s;
    }

    /** The original's blocklist for text that web clients render. */
    private static void checkSafe(String s, String name) {
        for (var bad : new String[] {"<", ">", "&", "'", "\"", "://", "../"}) {
            if (s.contains(bad)) {
                throw InvalidTask.rejected("arg(" + name + ") is dangerous");
            }
        }
    }
}
