package ibex.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentConfigTest {
    @TempDir
    Path dir;

    private Path write(String text) throws IOException {
        return Files.writeString(dir.resolve("agentd.conf"), text);
    }

    private void assertError(String suffix, String text) throws IOException {
        Path file = write(text);
        var e = assertThrows(ConfigException.class, () -> AgentConfig.load(file));
        assertEquals(file + suffix, e.getMessage());
    }

    @Test
    void shippedFile_loadsWithoutWarnings() {
        var c = AgentConfig.load(Path.of("etc/agentd.conf"));
        assertEquals(List.of(), c.warnings());
        assertEquals(Path.of("meta").toAbsolutePath(), c.metaDir());
        assertEquals(new AgentConfig.Heartbeat(1000, List.of(new HostPort("127.0.0.1", 20090)), "$hostname", null, null, null, null), c.heartbeat());
    }

    @Test
    void originalAgentFile_loadsWithOneWarning() throws IOException {
        var c = AgentConfig.load(write("""
                RunMode = "debug"
                MetaDir = "/var/lib/ibex/meta"
                [HTTP]
                Enable = true
                Port = 2090
                [Heartbeat]
                Interval = 1000
                Servers = [
                  "10.0.0.1:20090",
                  "[fd00::2]:20090",   # second server
                ]
                Host = "$ip"
                """));
        assertEquals(Path.of("/var/lib/ibex/meta"), c.metaDir());
        assertEquals(List.of(new HostPort("10.0.0.1", 20090), new HostPort("fd00::2", 20090)), c.heartbeat().servers());
        assertEquals("[fd00::2]:20090", c.heartbeat().servers().get(1).toString());
        assertEquals("$ip", c.heartbeat().host());
        assertEquals(List.of(dir.resolve("agentd.conf") + ": ignoring keys of the original ibex that this ibex does not use:"
                + " RunMode, [HTTP] Enable, [HTTP] Port"), c.warnings());
    }

    @Test
    void unknownKey_listsTheKnownOnes() throws IOException {
        assertError(":3: unknown key 'Intervall' in [Heartbeat] (known: Interval, Servers, Host, Token, CAFile, CertFile, KeyFile)",
                "[Heartbeat]\nServers = [\"h:1\"]\nIntervall = 1000\n");
        assertError(":1: unknown top-level key 'Metadir' (known: MetaDir)", "Metadir = \"m\"\n");
    }

    @Test
    void misspeltKey_isReportedBeforeTheErrorItCauses() throws IOException {
        assertError(":2: unknown key 'Server' in [Heartbeat] (known: Interval, Servers, Host, Token, CAFile, CertFile, KeyFile)",
                "[Heartbeat]\nServer = [\"h:1\"]\n");
    }

    @Test
    void emptyHost_isRefused() throws IOException {
        assertError(":3: [Heartbeat] Host must not be empty", "[Heartbeat]\nServers = [\"h:1\"]\nHost = \"\"\n");
    }

    @Test
    void literalHost_followsTaskHostRules() throws IOException {
        assertError(":3: [Heartbeat] Host is not a usable host name: host 'web 1' has a character that is not allowed"
                + " in a host name", "[Heartbeat]\nServers = [\"h:1\"]\nHost = \"web 1\"\n");
        assertEquals("web-1", AgentConfig.load(write("[Heartbeat]\nServers = [\"h:1\"]\nHost = \"web-1\"\n")).heartbeat().host());
    }

    @Test
    void servers_mustBeNonEmptyAndValid() throws IOException {
        assertError(": [Heartbeat] Servers must list at least one server \"host:port\", as [\"127.0.0.1:20090\"]", "");
        assertError(":1: [Heartbeat] Servers must list at least one server \"host:port\", as [\"127.0.0.1:20090\"]", "[Heartbeat]\n");
        assertError(":2: [Heartbeat] Servers entry 2 must be \"host:port\" (port 1..65535), got \"b:0\"",
                "[Heartbeat]\nServers = [\"a:1\", \"b:0\"]\n");
        assertError(":2: [Heartbeat] Servers must be an array of strings, got \"a:1\"", "[Heartbeat]\nServers = \"a:1\"\n");
        assertError(":2: [Heartbeat] Servers must be an array of strings, got [\"a:1\", 2]", "[Heartbeat]\nServers = [\"a:1\", 2]\n");
    }

    @Test
    void interval_zero_isRefused() throws IOException {
        assertError(":2: [Heartbeat] Interval must be 100..60000, got 0", "[Heartbeat]\nInterval = 0\nServers = [\"h:1\"]\n");
    }

    @Test
    void task_defaults_andTheShippedFile_agree() throws IOException {
        assertEquals(new AgentConfig.Task(1048576, 5000, 168), AgentConfig.Task.DEFAULTS);
        assertEquals(AgentConfig.Task.DEFAULTS, AgentConfig.load(Path.of("etc/agentd.conf")).task());
        assertEquals(AgentConfig.Task.DEFAULTS, AgentConfig.load(write("[Heartbeat]\nServers = [\"h:1\"]\n")).task());
    }

    @Test
    void task_keys_areRead() throws IOException {
        var c = AgentConfig.load(write("[Heartbeat]\nServers = [\"h:1\"]\n[Task]\nOutputCap = 4096\nKillGrace = 0\nKeepHours = 1\n"));
        assertEquals(new AgentConfig.Task(4096, 0, 1), c.task());
    }

    @Test
    void task_outOfRange_namesTheRange() throws IOException {
        assertError(":4: [Task] OutputCap must be 4096..2097152, got 4194304",
                "[Heartbeat]\nServers = [\"h:1\"]\n[Task]\nOutputCap = 4194304\n");
        assertError(":4: [Task] KillGrace must be 0..600000, got -1",
                "[Heartbeat]\nServers = [\"h:1\"]\n[Task]\nKillGrace = -1\n");
        assertError(":4: [Task] KeepHours must be 1..87600, got 0",
                "[Heartbeat]\nServers = [\"h:1\"]\n[Task]\nKeepHours = 0\n");
    }
}
