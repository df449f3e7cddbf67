package ibex.security;

import static ibex.security.SecureServer.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ibex.config.ConfigException;
import ibex.config.ServerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The API runs scripts as root on every host, so a server reachable from other machines must not
 * start open or with the sample password, unless the operator says so in [HTTP] AllowInsecure.
 */
class SafeDefaultsTest {
    private Path dir;

    @BeforeEach
    void tempDir() throws IOException {
        dir = Files.createTempDirectory("ibex-sec-conf-");
    }

    @AfterEach
    void cleanUp() {
        SecureServer.delete(dir);
    }

    private Path write(String text) throws IOException {
        var f = dir.resolve("server.conf");
        Files.writeString(f, text);
        return f;
    }

    private ConfigException refused(String text) throws IOException {
        var f = write(text);
        return assertThrows(ConfigException.class, () -> ServerConfig.load(f), text);
    }

    @Test
    void anExposedHost_withoutAnyAccount_isRefused_namingFileLineAndTheFixes() throws IOException {
        for (var host : List.of("0.0.0.0", "::", "192.0.2.10", "0", "ibex.example.com")) {
            var e = refused("[Log]\nLevel = \"INFO\"\n\n[HTTP]\nHost = \"" + host + "\"\nPort = 10090\n");
            String m = e.getMessage();
            assertTrue(m.startsWith(dir.resolve("server.conf") + ":5: [HTTP] Host is \"" + host + "\""), m);
            assertContains(m, "[BasicAuth] has no account");
            assertContains(m, "Add an account under [BasicAuth]");
            assertContains(m, "Host = \"127.0.0.1\"");
            assertContains(m, "AllowInsecure = true");
        }
        // an empty [BasicAuth] section is no account either
        assertContains(refused("[HTTP]\nHost = \"0.0.0.0\"\n[BasicAuth]\n").getMessage(), "[BasicAuth] has no account");
    }

    @Test
    void anExposedHost_withTheSampleAccount_isRefused_evenNextToARealOne() throws IOException {
        for (var auth : List.of("ibex = \"ibex\"", "admin = \"Long-Random-1234\"\nibex = \"ibex\"")) {
            var e = refused("[HTTP]\nHost = \"0.0.0.0\"\n\n[BasicAuth]\n" + auth + "\n");
            String m = e.getMessage();
            assertTrue(m.startsWith(dir.resolve("server.conf") + ":2: [HTTP] Host"), m);
            assertContains(m, "sample account ibex = \"ibex\"");
            assertContains(m, "change its password");
            assertContains(m, "AllowInsecure = true");
            assertFalse(m.contains("Long-Random-1234"), "no password in the message: " + m);
        }
    }

    @Test
    void anExposedHost_loads_withARealAccount_orWithAllowInsecure() throws IOException {
        var withAccount = ServerConfig.load(write("[HTTP]\nHost = \"0.0.0.0\"\n\n[BasicAuth]\nops = \"Long-Random-1234\"\n"));
        assertEquals("0.0.0.0", withAccount.http().host());
        assertEquals(List.of("ops"), List.copyOf(withAccount.basicAuth().keySet()));

        var insecure = ServerConfig.load(write("[HTTP]\nHost = \"0.0.0.0\"\nAllowInsecure = true\n"));
        assertTrue(insecure.http().allowInsecure());
        assertTrue(insecure.basicAuth().isEmpty());
        assertTrue(ServerConfig.load(write("[HTTP]\nHost = \"0.0.0.0\"\nAllowInsecure = true\n[BasicAuth]\nibex = \"ibex\"\n"))
                .http().allowInsecure());
    }

    @Test
    void loopback_withoutAccounts_loads() throws IOException {
        for (var host : List.of("127.0.0.1", "127.0.0.2", "::1", "localhost")) {
            var c = ServerConfig.load(write("[HTTP]\nHost = \"" + host + "\"\n"));
            assertEquals(host, c.http().host());
            assertTrue(c.basicAuth().isEmpty());
            assertFalse(c.http().allowInsecure());
        }
        assertEquals("127.0.0.1", ServerConfig.load(write("")).http().host(), "the default host is loopback");
    }

    @Test
    void theShippedServerConf_loads_andIsSafeAsWritten() {
        var c = ServerConfig.load(Path.of("etc/server.conf"));
        assertEquals("127.0.0.1", c.http().host());
        assertFalse(c.http().allowInsecure());
        assertFalse("ibex".equals(c.basicAuth().get("ibex")), "no sample password in the shipped file");
        assertEquals(4 * 1024 * 1024, c.http().maxBodyBytes());
        assertEquals(10_000, c.limits().maxHosts());
    }

    @Test
    void aShortRpcToken_isRefused_withoutShowingIt() throws IOException {
        var e = refused("[RPC]\nListen = \"127.0.0.1:0\"\nToken = \"short-secret\"\n");
        assertTrue(e.getMessage().startsWith(dir.resolve("server.conf") + ":3: [RPC] Token must be at least 16 characters"), e.getMessage());
        assertContains(e.getMessage(), "got 12");
        assertFalse(e.getMessage().contains("short-secret"), e.getMessage());
        var typed = refused("[BasicAuth]\nops = 1234567\n");
        assertFalse(typed.getMessage().contains("1234567"), "a password of the wrong type is not shown: " + typed.getMessage());
        assertNull(ServerConfig.load(write("[RPC]\nToken = \"\"\n")).rpc().token(), "an empty token is no token");
    }

    @Test
    void binIbexServer_onAnExposedHostWithoutAccounts_exits1_withTheReason() throws Exception {
        var conf = write("[HTTP]\nHost = \"0.0.0.0\"\nPort = 0\n[RPC]\nListen = \"127.0.0.1:0\"\n[DB]\nDSN = \"" + dir.resolve("db") + "\"\n");
        var p = new ProcessBuilder(System.getProperty("ibex.bin", "bin/ibex"), "server", "-c", conf.toString()).redirectErrorStream(true).start();
        var out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS));
        assertEquals(1, p.exitValue(), out);
        assertContains(out, conf + ":2: [HTTP] Host is \"0.0.0.0\"");
        assertFalse(out.contains("server ready"), out);
    }

    // Regression (found failing, fixed in c3523aa): with DBType absent (the default is h2) or "h2", a MySQL DSN with a password is taken as an
    // h2 file path: ServerConfig.Db.display() (logged at start as "store ...") and toString show the
    // password, and the server creates an H2 file whose path contains it. Expected: a ConfigException
    // at the DSN line saying it looks like a MySQL DSN while DBType is h2, without the password.
    @Test
    void aMysqlDsnWithAPassword_underTheDefaultH2Type_isRefused_withoutShowingThePassword() throws IOException {
        String pw = "DbSecret-999-q";
        for (var db : List.of("[DB]\nDSN = \"ibex:" + pw + "@tcp(127.0.0.1:3306)/ibex\"\n",
                "[DB]\nDBType = \"h2\"\nDSN = \"ibex:" + pw + "@tcp(db:3306)/ibex?charset=utf8mb4\"\n")) {
            var file = write(db);
            try {
                var c = ServerConfig.load(file);
                fail("loaded as " + c.db().display() + " (" + c.db() + ")");
            } catch (ConfigException e) {
                assertTrue(!e.getMessage().contains(pw), e.getMessage());
                SecureServer.assertContains(e.getMessage(), "DSN");
            }
        }
    }
}
