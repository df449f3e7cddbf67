package ibex.agent;

import com.eclipsesource.json.Json;
import com.eclipsesource.json.JsonValue;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.regex.Pattern;

/**
 * The argv that runs a script: never a shell string built from task input. Every run is
 * <pre>
 *   /bin/sh -c WRAP  CMD EXIT-FILE ARGS...
 * </pre>
 * started by a {@link Spawner} as the leader of a new session and process group whose id is its
 * pid: a kill reaches every process the script started, and after an agent restart the session
 * still names them. The wrapper is a constant: it opens the run's log, runs the command in
 * the foreground (a subshell that execs it) with that file closed, and appends the command's exit
 * status to it. It survives a TERM meant for the script (a trapped signal waits for the
 * foreground command), so the status of a script that handles TERM is still recorded; the trap
 * does not reach the script (exec resets caught signals). The log's path is in the wrapper's argv,
 * which is how a restarted agent recognises its wrapper among the host's processes.
 *
 * <p>Another account is entered with {@code setpriv} and a login shell whose command is a
 * constant too: the script and its arguments travel as positional parameters, never as text a
 * shell parses.
 */
final class Command {
    /**
     * The wrapper: "$0" is the command, "$1" the run's log ({@link MetaDir#runFile}), the rest the
     * command's arguments. It appends "run" to the log as it starts the command and "exit N" when
     * the command exited. The wrapper's own stderr goes to /dev/null (the shell would print
     * "Terminated" and the like into the script's stderr); the command gets the real one back,
     * without the wrapper's fds 8 and 9.
     */
    static final String WRAP = "exec 9>>\"$1\" 8>&2 2>/dev/null; shift; echo run >&9; trap : TERM INT HUP; "
            + "( exec \"$0\" \"$@\" 2>&8 8>&- 9>&- ); echo \"exit $?\" >&9";
    /** The fixed command of the login shell: go home as {@code su -} does (else to /), then run "$0" "$@". */
    static final String LOGIN_EXEC = "cd \"$HOME\" 2>/dev/null || cd /; exec \"$0\" \"$@\"";
    private static final Pattern ACCOUNT = Pattern.compile("[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}\\$?");
    /**
     * Script files are written under the write lock, processes started under the read lock. A child
     * inherits every fd the JVM has open while it is forked, until it execs; a script file open for
     * writing in any process makes exec of it fail with ETXTBSY ("Text file busy", exit 126). So no
     * process may be forked while a script is being written, and runs still start side by side.
     * Static: every fd of the JVM is inherited, whichever MetaDir it belongs to.
     */
    static final ReadWriteLock EXEC_LOCK = new ReentrantReadWriteLock();

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
        cmd.add(script.toString());
        cmd.addAll(args);
        return cmd;
    }

    /** Runs the script as {@code account} with its login environment (agent running as root). */
    static List<String> asAccount(Account account, Path script, List<String> args) {
        var cmd = new ArrayList<String>(List.of("/usr/bin/setpriv",
                "--reuid=" + account.uid(), "--regid=" + account.gid(), "--init-groups", "--reset-env",
                "/bin/sh", "-l", "-c", LOGIN_EXEC, script.toString()));
        cmd.addAll(args);
        return cmd;
    }

    /** {@code command} under the wrapper, its exit status going to {@code runFile}; a Spawner gives it a session. */
    static List<String> wrapped(List<String> command, Path runFile) {
        var cmd = new ArrayList<String>(List.of("/bin/sh", "-c", WRAP, command.getFirst(), runFile.toString()));
        cmd.addAll(command.subList(1, command.size()));
        return cmd;
    }

    /** The run's log named in a wrapper's argv, if {@code argv} is one of our wrappers. */
    static Optional<String> runFileOf(List<String> argv) {
        return argv.size() >= 5 && argv.get(0).equals("/bin/sh") && argv.get(1).equals("-c") && argv.get(2).equals(WRAP)
                ? Optional.of(argv.get(4)) : Optional.empty();
    }

    /** Starts a process of the agent's; every process the agent starts is started here (see {@link #EXEC_LOCK}). */
    static Process start(ProcessBuilder pb) throws IOException {
        EXEC_LOCK.readLock().lock();
        try {
            return pb.start();
        } finally {
            EXEC_LOCK.readLock().unlock();
        }
    }

    /** The account from the system's user database (NSS, so LDAP accounts work too). */
    static Optional<Account> lookup(String name) throws IOException {
        var p = start(new ProcessBuilder("getent", "passwd", name).redirectErrorStream(true));
        String line;
        try (var in = p.getInputStream()) {
            line = new String(in.readNBytes(4096), StandardCharsets.UTF_8).strip();
        }
        try {
            if (p.waitFor() != 0) {
                return Optional.empty();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Optional.empty();
        }
        var f = line.split(":", -1);
        if (f.length < 7 || !f[0].equals(name)) {
            return Optional.empty();
        }
        try {
            return Optional.of(new Account(name, Integer.parseInt(f[2]), Integer.parseInt(f[3]), Path.of(f[5])));
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }
}
