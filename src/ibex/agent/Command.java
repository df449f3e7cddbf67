package ibex.agent;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonValue;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * The argv that runs a script: never a shell string built from task input. The script leads a
 * session of its own ({@code setsid}, which execs in place, so the pid and exit status are the
 * script's), so a kill reaches every process it started. Another account is entered with
 * {@code setpriv} and a login shell whose command is a constant: the script and its arguments
 * travel as the shell's positional parameters, never as text the shell parses.
 */
final class Command {
    /** The fixed command of the login shell: go home as {@code su -} does, then run "$0" "$@". */
    static final String LOGIN_EXEC = "cd \"$HOME\" 2>/dev/null; exec \"$0\" \"$@\"";
    private static final Pattern ACCOUNT = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\\$?");

    private Command() {
        throw new AssertionError();
    }

    /** A user account as the system knows it. */
    record Account(String name, int uid, int gid, Path home) {
    }

    /**
     * The original's args: ",," separates arguments ("a,,b" is two). A JSON array of strings is
     * also accepted. Empty means no arguments.
     */
    static List<String> args(String raw) {
        if (raw == null || raw.isEmpty()) {
            return List.of();
        }
        if (raw.startsWith("[")) {
            try {
                JsonValue v = Json.parse(raw);
                if (v.isArray()) {
                    var out = new ArrayList<String>();
                    for (var e : v.asArray()) {
                        if (!e.isString()) {
                            return split(raw);
                        }
                        out.add(e.asString());
                    }
                    return out;
                }
            } catch (RuntimeException e) {
                // Not JSON: an ordinary argument that happens to start with '['.
            }
        }
        return split(raw);
    }

    private static List<String> split(String raw) {
        return Arrays.asList(raw.split(",,", -1));
    }

    static boolean validAccountName(String account) {
        return ACCOUNT.matcher(account).matches();
    }

    /** Runs the script as the agent's own user. */
    static List<String> direct(Path script, List<String> args) {
        var cmd = new ArrayList<String>();
        cmd.add("setsid");
        cmd.add(script.toString());
        cmd.addAll(args);
        return cmd;
    }

    /** Runs the script as {@code account} with its login environment (agent running as root). */
    static List<String> asAccount(Account account, Path script, List<String> args) {
        var cmd = new ArrayList<String>(List.of("setsid", "setpriv",
                "--reuid=" + account.uid(), "--regid=" + account.gid(), "--init-groups", "--reset-env",
                "/bin/sh", "-l", "-c", LOGIN_EXEC, script.toString()));
        cmd.addAll(args);
        return cmd;
    }
}
