package ibex.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code etc/agentd.conf}, read once and checked. The original agent's [HTTP] section is accepted and
 * warned about: this agent serves no HTTP port.
 *
 * @param metaDir  the task journal, absolute
 * @param task     how scripts are run: output cap, kill grace, journal retention
 * @param warnings none, or one line naming the original's keys that were ignored
 */
public record AgentConfig(Path file, Path metaDir, LogConfig log, Heartbeat heartbeat, Task task, List<String> warnings) {

    static final Map<String, List<String>> KEYS = Bind.table(
            Map.entry("", List.of("MetaDir")),
            Map.entry("Log", LogConfig.KEYS),
            Map.entry("Heartbeat", List.of("Interval", "Servers", "Host", "Token", "CAFile", "CertFile", "KeyFile")),
            Map.entry("Task", List.of("OutputCap", "KillGrace", "KeepHours")));

    static final Map<String, Set<String>> ORIGINAL_ONLY = Map.of(
            "", Set.of("RunMode"),
            "Log", Set.of("KeepHours", "RotateNum", "RotateSize"),
            "HTTP", Bind.WHOLE_SECTION);

    public AgentConfig {
        warnings = List.copyOf(warnings);
    }

    /**
     * Reads and checks {@code file}.
     *
     * @throws ConfigException naming file, line, key and what is expected
     */
    public static AgentConfig load(Path file) {
        return from(file, Toml.read(file));
    }

    static AgentConfig from(Path file, Toml.Doc doc) {
        var bind = new Bind(doc, KEYS, ORIGINAL_ONLY);
        var metaDir = bind.section("").path("MetaDir", "./meta");
        var log = LogConfig.from(bind.section("Log"));
        var heartbeat = Heartbeat.from(bind.section("Heartbeat"));
        var task = Task.from(bind.section("Task"));
        return new AgentConfig(file, metaDir, log, heartbeat, task, bind.warnings());
    }

    /**
     * @param intervalMs how often the agent reports (the original spun at 0, hence 100..60000)
     * @param servers    at least one, tried by the agent
     * @param host       "$hostname", "$ip" or a literal name, as written: resolving it is the agent's job
     * @param token      the server's [RPC] Token, proven by HMAC, never sent; null = none
     * @param caFile     with it, the agent speaks TLS and trusts only servers signed by this CA
     * @param certFile   with keyFile, a client certificate the agent presents over TLS
     */
    public record Heartbeat(int intervalMs, List<HostPort> servers, String host, String token, Path caFile, Path certFile,
                            Path keyFile) {
        public Heartbeat {
            servers = List.copyOf(servers);
        }

        static Heartbeat from(Bind.Section s) {
            int interval = s.integer("Interval", 1000, 100, 60000);
            var servers = new ArrayList<HostPort>();
            var list = s.strings("Servers");
            for (int i = 0; i < list.size(); i++) {
                try {
                    servers.add(HostPort.parse(list.get(i), 1));
                } catch (IllegalArgumentException e) {
                    throw s.error("Servers", "entry " + (i + 1) + " must be \"host:port\" (" + e.getMessage() + "), got "
                            + new TomlValue.Str(list.get(i)).show());
                }
            }
            if (servers.isEmpty()) {
                throw s.error("Servers", "must list at least one server \"host:port\", as [\"127.0.0.1:20090\"]");
            }
            String host = s.string("Host", "$hostname");
            if (host.isEmpty()) {
                throw s.error("Host", "must not be empty");
            }
            if (!host.equals("$hostname") && !host.equals("$ip")) {
                s.checkHost("Host", host);
            }
            var token = s.secret("Token", "");
            var hb = new Heartbeat(interval, servers, host, token.isEmpty() ? null : token, s.path("CAFile", null),
                    s.path("CertFile", null), s.path("KeyFile", null));
            if ((hb.certFile == null) != (hb.keyFile == null)) {
                throw s.error(hb.certFile != null ? "CertFile" : "KeyFile", "needs its partner: a client certificate needs both CertFile and KeyFile");
            }
            if (hb.certFile != null && hb.caFile == null) {
                throw s.error("CertFile", "is set but CAFile is not; TLS to the server needs CAFile");
            }
            return hb;
        }

        /** Keeps the token out of logs. */
        @Override
        public String toString() {
            return "Heartbeat[intervalMs=" + intervalMs + ", servers=" + servers + ", host=" + host
                    + (token == null ? "" : ", token set") + (caFile == null ? "" : ", tls") + "]";
        }
    }

    /**
     * [Task]: how the agent runs scripts (this ibex's keys; the original had none of them).
     *
     * @param outputCap   bytes of stdout and of stderr kept per run, the head and the tail; at most
     *                    2 MiB so a heartbeat with one result stays under the 16 MiB frame limit even
     *                    when every byte is invalid UTF-8 (each becomes a 3-byte U+FFFD)
     * @param killGraceMs how long a killed or timed-out script's processes get between TERM and KILL
     * @param keepHours   how long a task's directory in MetaDir outlives its last assignment
     */
    public record Task(int outputCap, int killGraceMs, int keepHours) {
        public static final Task DEFAULTS = new Task(1024 * 1024, 5000, 168);

        static Task from(Bind.Section s) {
            return new Task(s.integer("OutputCap", DEFAULTS.outputCap(), 4096, 2 * 1024 * 1024),
                    s.integer("KillGrace", DEFAULTS.killGraceMs(), 0, 600_000),
                    s.integer("KeepHours", DEFAULTS.keepHours(), 1, 87_600));
        }
    }
}
