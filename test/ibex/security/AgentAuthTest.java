package ibex.security;

import static ibex.security.SecureServer.TOKEN;
import static ibex.security.SecureServer.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.wire.ErrorReply;
import ibex.wire.Hello;
import ibex.wire.Message;
import ibex.wire.Welcome;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The agent port of a server with [RPC] Token: only agents that prove the token, with a key that
 * signs the server's fresh nonce, get in; the first key for a host name is pinned until an operator
 * releases the name (API route or {@code bin/ibex agents forget}).
 */
class AgentAuthTest {
    static SecureServer s;

    @BeforeAll
    static void start() throws IOException {
        s = SecureServer.start(SecureServer.Options.token());
    }

    @AfterAll
    static void stop() {
        if (s != null) {
            s.close();
        }
    }

    @Test
    void helloWithoutProof_isRefusedAuth_sayingATokenIsNeeded_andClosed() throws IOException {
        try (var a = RawAgent.connect(s.rpc())) {
            var msg = RawAgent.assertRefused(ErrorReply.AUTH, a.send(Hello.unauthenticated("noproof-1", "id-1", "raw")));
            assertContains(msg, "[Heartbeat] Token");
            a.assertClosedByServer();
        }
        try (var a = RawAgent.connect(s.rpc())) {
            // a key but no token: still no
            RawAgent.assertRefused(ErrorReply.AUTH, a.handshake("noproof-2", null, RawAgent.newKeys()));
            a.assertClosedByServer();
        }
    }

    @Test
    void helloWithAWrongToken_isRefusedAuth_andClosed() throws IOException {
        for (var wrong : List.of("rpc-token-0123456789abcdeX", TOKEN + " ", TOKEN.substring(1), "x".repeat(64))) {
            try (var a = RawAgent.connect(s.rpc())) {
                var msg = RawAgent.assertRefused(ErrorReply.AUTH, a.handshake("wrongtok-1", wrong, RawAgent.newKeys()));
                assertContains(msg, "token does not match");
                assertFalse(msg.contains(TOKEN) || msg.contains(wrong), "the refusal names no secret: " + msg);
                a.assertClosedByServer();
            }
        }
    }

    @Test
    void helloWithTheRightToken_isWelcomed_andTheTokenNeverCrossesTheWire() throws IOException {
        try (var a = RawAgent.connect(s.rpc())) {
            var hello = a.hello("righttok-1", UUID.randomUUID().toString(), TOKEN, RawAgent.newKeys());
            byte[] frame = RawAgent.frame(hello);
            assertFalse(indexOf(frame, TOKEN.getBytes(StandardCharsets.UTF_8)) >= 0, "the Hello frame carries the token itself");
            var w = assertInstanceOf(Welcome.class, a.send(hello));
            assertEquals(1000, w.heartbeatMs());
        }
    }

    @Test
    void rightTokenWithoutAKey_isRefused_becausePinningNeedsOne() throws IOException {
        try (var a = RawAgent.connect(s.rpc())) {
            var msg = RawAgent.assertRefused(ErrorReply.AUTH, a.handshake("nokey-1", TOKEN, null));
            assertContains(msg, "no public key");
            a.assertClosedByServer();
        }
    }

    @Test
    void rightTokenWithASignatureFromAnotherKey_isRefused() throws IOException {
        try (var a = RawAgent.connect(s.rpc())) {
            var claimed = RawAgent.newKeys();
            var signer = RawAgent.newKeys();
            var real = a.hello("forged-sig-1", "id-f", TOKEN, signer);
            var forged = new Hello(real.protocolVersion(), real.host(), real.agentId(), real.agentVersion(),
                    ibex.wire.Handshake.proof(TOKEN, ibex.wire.Handshake.transcript(a.greeting.nonce(), real.host(), real.agentId(),
                            claimed.getPublic().getEncoded())),
                    claimed.getPublic().getEncoded(), real.signature());
            var msg = RawAgent.assertRefused(ErrorReply.AUTH, a.send(forged));
            assertContains(msg, "signature does not match");
            a.assertClosedByServer();
        }
    }

    @Test
    void aHelloReplayedOnANewConnection_isRefused() throws IOException {
        var keys = RawAgent.newKeys();
        Hello captured;
        byte[] firstNonce;
        try (var a = RawAgent.connect(s.rpc())) {
            firstNonce = a.greeting.nonce();
            captured = a.hello("replay-1", "id-replay", TOKEN, keys);
            assertInstanceOf(Welcome.class, a.send(captured));
        }
        for (int i = 0; i < 3; i++) {
            try (var b = RawAgent.connect(s.rpc())) {
                assertFalse(Arrays.equals(firstNonce, b.greeting.nonce()), "every connection gets a fresh nonce");
                // the exact bytes a listener recorded, sent again
                b.sendBytes(RawAgent.frame(captured));
                var msg = RawAgent.assertRefused(ErrorReply.AUTH, b.in.read());
                assertContains(msg, "authentication failed");
                b.assertClosedByServer();
            }
        }
        // the agent that owns the key still gets in on a fresh nonce
        try (var c = RawAgent.connect(s.rpc())) {
            assertInstanceOf(Welcome.class, c.send(c.hello("replay-1", "id-replay", TOKEN, keys)));
        }
    }

    @Test
    void aSecondKeyClaimingAPinnedHost_isRefusedNamingThePin_untilTheApiReleasesIt() throws IOException {
        // a real agent enrols first and runs a script
        var first = s.agent("pinned-1", "pinned-1-a", TOKEN, null);
        s.assertRunsOn("pinned-1");
        KeyPair firstKeys = keysOf(s.dir.resolve("meta-pinned-1-a"));
        s.stop(first);

        var stranger = RawAgent.newKeys();
        try (var a = RawAgent.connect(s.rpc())) {
            var msg = RawAgent.assertRefused(ErrorReply.AUTH, a.handshake("pinned-1", TOKEN, stranger));
            assertContains(msg, "host 'pinned-1' is pinned to another agent's key");
            assertContains(msg, "ibex agents forget pinned-1");
            a.assertClosedByServer();
        }
        // the enrolled agent's own key (read from its MetaDir) is still good
        try (var a = awaitFree("pinned-1", firstKeys)) {
            assertInstanceOf(Welcome.class, a.reply);
        }

        // releasing the name needs credentials like every /ibex/v1 route
        assertEquals(401, s.send("DELETE", "/ibex/v1/agent/pinned-1/pin", null, null).status());
        assertEquals(401, s.send("DELETE", "/ibex/v1/agent/pinned-1/pin", null, SecureServer.basic("ibex", "nope")).status());
        try (var a = RawAgent.connect(s.rpc())) {
            RawAgent.assertRefused(ErrorReply.AUTH, a.handshake("pinned-1", TOKEN, stranger));
        }

        var released = s.send("DELETE", "/ibex/v1/agent/pinned-1/pin", null, SecureServer.AUTH);
        assertEquals(200, released.status(), released::toString);
        assertEquals("{\"err\":\"\"}", released.body());
        var again = s.send("DELETE", "/ibex/v1/agent/pinned-1/pin", null, SecureServer.AUTH);
        assertEquals(404, again.status(), again::toString);
        assertEquals("host 'pinned-1' is not pinned", again.err());

        // a second real agent (another MetaDir, so another key) now enrols and runs scripts
        var second = s.agent("pinned-1", "pinned-1-b", TOKEN, null);
        s.assertRunsOn("pinned-1");
        s.stop(second);
        // and the old key is the stranger now
        try (var a = awaitFree("pinned-1", firstKeys)) {
            var msg = RawAgent.assertRefused(ErrorReply.AUTH, a.reply);
            assertContains(msg, "pinned to another agent's key");
        }
    }

    @Test
    void agentsForget_onTheCommandLine_releasesAPinInTheDatabaseFile_acrossRestarts() throws Exception {
        Path dir = Files.createTempDirectory("ibex-sec-forget-");
        var opts = SecureServer.Options.token();
        var k1 = RawAgent.newKeys();
        var k2 = RawAgent.newKeys();
        try {
            var one = SecureServer.start(dir, opts);
            try (var a = RawAgent.connect(one.rpc())) {
                assertInstanceOf(Welcome.class, a.handshake("cli-host", TOKEN, k1));
            } finally {
                one.stopAll();
            }
            var two = SecureServer.start(dir, opts);
            try (var a = RawAgent.connect(two.rpc())) {
                var msg = RawAgent.assertRefused(ErrorReply.AUTH, a.handshake("cli-host", TOKEN, k2));
                assertContains(msg, "pinned to another agent's key");
            } finally {
                two.stopAll();
            }

            // the server is stopped; the operator runs the command against its config file
            var out = ibex(dir.resolve("server.conf"), "agents", "forget", "cli-host");
            assertEquals(0, out.code(), out.text());
            assertContains(out.text(), "host 'cli-host' released");
            var twice = ibex(dir.resolve("server.conf"), "agents", "forget", "cli-host");
            assertEquals(0, twice.code(), twice.text());
            assertContains(twice.text(), "host 'cli-host' was not pinned");

            var three = SecureServer.start(dir, opts);
            try (var a = RawAgent.connect(three.rpc())) {
                assertInstanceOf(Welcome.class, a.handshake("cli-host", TOKEN, k2));
            } finally {
                three.stopAll();
            }
        } finally {
            SecureServer.delete(dir);
        }
    }

    @Test
    void aServerWithoutAToken_acceptsTheUnauthenticatedHello_thatATokenServerRefuses() throws IOException {
        // control for the refusals above: the same Hello is fine where no token is configured
        try (var open = SecureServer.start(SecureServer.Options.plain()); var a = RawAgent.connect(open.rpc())) {
            assertInstanceOf(Welcome.class, a.send(Hello.unauthenticated("open-1", "id-o", "raw")));
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------

    record Attempt(RawAgent agent, Message reply) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            agent.close();
        }
    }

    /** Connects as {@code host}; retries while an agent that just stopped is still registered (HOST_TAKEN). */
    private static Attempt awaitFree(String host, KeyPair keys) throws IOException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            var a = RawAgent.connect(s.rpc());
            var reply = a.handshake(host, TOKEN, keys);
            if (!(reply instanceof ErrorReply e && e.code() == ErrorReply.HOST_TAKEN) || System.nanoTime() > deadline) {
                return new Attempt(a, reply);
            }
            a.close();
            SecureServer.sleep(100);
        }
    }

    /** The key pair a real agent keeps in its MetaDir (agent.pub X.509, agent.key PKCS#8). */
    static KeyPair keysOf(Path metaDir) {
        try {
            var kf = KeyFactory.getInstance("Ed25519");
            return new KeyPair(kf.generatePublic(new X509EncodedKeySpec(Files.readAllBytes(metaDir.resolve("agent.pub")))),
                    kf.generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(metaDir.resolve("agent.key")))));
        } catch (Exception e) {
            throw new AssertionError("no readable key pair in " + metaDir, e);
        }
    }

    record Run(int code, String text) {
    }

    /** Runs the built bin/ibex with {@code -c conf} appended; output and exit code. */
    static Run ibex(Path conf, String... args) throws IOException, InterruptedException {
        var cmd = new java.util.ArrayList<String>();
        cmd.add(System.getProperty("ibex.bin", "bin/ibex"));
        cmd.addAll(List.of(args));
        cmd.add("-c");
        cmd.add(conf.toString());
        var p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        var text = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "bin/ibex did not finish");
        return new Run(p.exitValue(), text);
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
