package ibex.security;

import static ibex.security.SecureServer.TOKEN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ibex.config.Pem;
import ibex.wire.Assignments;
import ibex.wire.Heartbeat;
import ibex.wire.Welcome;
import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.Test;

/**
 * An agent that keeps beating but stops reading (a hung process, a host whose kernel no longer
 * drains the socket) while the server has megabytes of scripts to send it: the server gives up on
 * it once it has taken nothing for 30 s (ChannelOutput.STALL_MS) and drops it, and meanwhile every
 * other agent is answered as usual; on a plain port and on a TLS one (whose writes block).
 */
class StuckAgentTest {

    /** Connects one raw agent to the server under test. */
    private interface Dial {
        RawAgent connect() throws IOException;
    }

    @Test
    void onAPlainPort_anAgentThatStopsReading_isDroppedAfterTheWriteStall_whileAnotherIsAnsweredThroughout() throws Exception {
        try (var server = SecureServer.start(SecureServer.Options.token())) {
            stuckAgentIsDropped(server, () -> RawAgent.connect(server.rpc()));
        }
    }

    @Test
    void onATlsPort_anAgentThatStopsReading_isDroppedAfterTheWriteStall_whileAnotherIsAnsweredThroughout() throws Exception {
        var dir = Files.createTempDirectory("ibex-sec-stuck-tls-");
        try {
            var ca = TestCa.create(dir.resolve("pki"), "stuck");
            var cert = ca.issue("server");
            var tls = "CertFile = \"" + cert.cert() + "\"\nKeyFile = \"" + cert.key() + "\"";
            try (var server = SecureServer.start(dir.resolve("srv"), SecureServer.Options.token().withRpc(tls))) {
                var factory = Pem.context(null, null, ca.caCert()).getSocketFactory();
                stuckAgentIsDropped(server, () -> {
                    var socket = (SSLSocket) factory.createSocket("127.0.0.1", server.rpc().getPort());
                    socket.startHandshake();
                    return RawAgent.over(socket);
                });
            }
        } finally {
            SecureServer.delete(dir);
        }
    }

    private static void stuckAgentIsDropped(SecureServer server, Dial dial) throws Exception {
        try (var stuck = dial.connect(); var calm = dial.connect()) {
            var keys = RawAgent.newKeys();
            assertInstanceOf(Welcome.class, stuck.handshake("stuck-1", TOKEN, keys));
            assertInstanceOf(Welcome.class, calm.handshake("calm-1", TOKEN, RawAgent.newKeys()));
            assertEquals(2, server.metric("ibex_agents_connected"));
            // It beats, so it is never silent, and never reads.
            var beating = Thread.ofPlatform().daemon().start(() -> {
                long seq = 0;
                try {
                    while (true) {
                        stuck.out.write(new Heartbeat(++seq, List.of()));
                        Thread.sleep(500);
                    }
                } catch (IOException | InterruptedException e) {
                    // the server closed it, or the test ended
                }
            });
            // 12 MB of scripts for it: more than the loopback socket buffers of both sides hold.
            String script = "#!/bin/sh\n#" + "x".repeat(1_000_000) + "\n";
            long began = System.nanoTime();
            for (int i = 0; i < 12; i++) {
                server.create(SecureServer.task("stuck-1").set("script", script).set("action", "start"));
            }
            long seq = 0;
            long droppedAt = 0;
            while (droppedAt == 0) {
                calm.out.write(new Heartbeat(++seq, List.of()));
                long sent = System.nanoTime();
                Assignments reply;
                do {
                    reply = assertInstanceOf(Assignments.class, calm.in.read());
                } while (reply.ackSeq() == 0);      // a push (the first list after Welcome is one)
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - sent);
                assertEquals(seq, reply.ackSeq());
                assertTrue(ms < 2000, "the calm agent waited " + ms + " ms for a heartbeat reply while the other was stuck");
                if (server.metric("ibex_agents_connected") == 1) {
                    droppedAt = System.nanoTime();
                } else if (TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - began) > 60) {
                    fail("the stuck agent was still connected after 60 s");
                }
                SecureServer.sleep(500);
            }
            long s = TimeUnit.NANOSECONDS.toSeconds(droppedAt - began);
            assertTrue(s >= 25, "dropped after " + s + " s: before its writes had stalled for 30 s, so for something else");
            beating.interrupt();
            // It comes back like any agent: the same host, a new connection, welcomed.
            try (var back = dial.connect()) {
                assertInstanceOf(Welcome.class, back.handshake("stuck-1", TOKEN, keys));
            }
        }
    }
}
