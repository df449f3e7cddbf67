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
 * @param warnings none, or one line naming the original's keys that were ignored
 */
public record AgentConfig(Path file, Path metaDir, LogConfig log, Heartbeat heartbeat, List<String> warnings) {

    static final Map<String, List<String>> KEYS = Bind.table(
            Map.entry("", List.of("MetaDir")),
            Map.entry("Log", LogConfig.KEYS),
            Map.entry("Heartbeat", List.of("Interval", "Servers", "Host")));

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
        return new AgentConfig(file, metaDir, log, heartbeat, bind.warnings());
    }

    /**
     * @param intervalMs how often the agent reports (the original spun at 0, hence 100..60000)
     * @param servers    at least one, tried by the agent
     * @param host       "$hostname", "$ip" or a literal name, as written: resolving it is the agent's job
     */
    public record Heartbeat(int intervalMs, List<HostPort> servers, String host) {
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
            return new Heartbeat(interval, servers, host);
        }
    }
}
