package ibex.security;

import static ibex.security.SecureServer.TOKEN;
import static ibex.security.SecureServer.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.config.Pem;
import ibex.wire.Codec;
import ibex.wire.FrameReader;
import ibex.wire.FrameWriter;
import ibex.wire.Frames;
import ibex.wire.Greeting;
import ibex.wire.Handshake;
import ibex.wire.Hello;
import ibex.wire.Welcome;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLSocket;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * TLS on both ports from PEM files made by openssl at test time: HTTPS for the API, TLS on the
 * agent port, agents that verify the server against [Heartbeat] CAFile.
 */
class TlsTest {
    static Path dir;
    static TestCa ca;
    static TestCa otherCa;
    static SecureServer s;

    @BeforeAll
    static void start() throws IOException {
        dir = Files.createTempDirectory("ibex-sec-tls-");
        ca = TestCa.create(dir.resolve("pki"), "one");
        otherCa = TestCa.create(dir.resolve("pki-other"), "two");
        var server = ca.issue("server");
        var tls = "CertFile = \"" + server.cert() + "\"\nKeyFile = \"" + server.key() + "\"";
        s = SecureServer.start(dir.resolve("srv"), new SecureServer.Options(tls, "Token = \"" + TOKEN + "\"\n" + tls, "", ca.caCert()));
    }

    @AfterAll
    static void stop() {
        if (s != null) {
            s.close();
        }
        SecureServer.delete(dir);
    }

    @Test
    void anAgentWithTheCaFile_connectsOverTls_andATaskRunsEndToEnd_overHttps() throws IOException {
        s.agent("tls-1", "tls-1", TOKEN, ca.caCert());
        s.assertRunsOn("tls-1");   // created, polled and read back over https
    }

    @Test
    void anHttpsClientTrustingTheCa_gets200_andOneThatDoesNot_failsTheHandshake() throws Exception {
        var trusting = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).sslContext(Pem.context(null, null, ca.caCert())).build();
        var uri = URI.create("https://127.0.0.1:" + s.server.httpAddress().getPort() + "/ping");
        var r = trusting.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, r.statusCode());
        assertEquals("pong", r.body());
        var byName = trusting.send(HttpRequest.newBuilder(URI.create("https://localhost:" + s.server.httpAddress().getPort() + "/ping"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, byName.statusCode(), "the certificate names localhost too");

        var stranger = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).sslContext(Pem.context(null, null, otherCa.caCert())).build();
        assertThrows(SSLHandshakeException.class, () -> stranger.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString()));
        var plain = HttpClient.newBuilder().proxy(HttpClient.Builder.NO_PROXY).connectTimeout(Duration.ofSeconds(5)).build();
        var http = URI.create("http://127.0.0.1:" + s.server.httpAddress().getPort() + "/ibex/v1/tasks");
        try {
            var answer = plain.send(HttpRequest.newBuilder(http).timeout(Duration.ofSeconds(10)).header("Authorization", SecureServer.AUTH).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertTrue(answer.statusCode() >= 400, "plain HTTP on the HTTPS port must not be served: " + answer.statusCode() + " " + answer.body());
        } catch (IOException expected) {
            // the server drops the plain-text request
        }
        assertEquals(200, s.get("/ping").status(), "still serving https");
    }

    @Test
    void aRawTlsClient_seesTheGreeting_andTheTokenHandshakeStillApplies() throws IOException {
        try (var socket = tlsSocket(ca.caCert())) {
            var in = new FrameReader(socket.getInputStream(), Frames.DEFAULT_MAX);
            var out = new FrameWriter(socket.getOutputStream());
            var g = assertInstanceOf(Greeting.class, in.read());
            out.write(Handshake.hello(g.nonce(), "tls-raw", "id-tls", "raw", TOKEN, RawAgent.newKeys()));
            assertInstanceOf(Welcome.class, in.read());
        }
        try (var socket = tlsSocket(ca.caCert())) {
            var in = new FrameReader(socket.getInputStream(), Frames.DEFAULT_MAX);
            var out = new FrameWriter(socket.getOutputStream());
            assertInstanceOf(Greeting.class, in.read());
            out.write(Hello.unauthenticated("tls-raw-2", "id-tls-2", "raw"));
            RawAgent.assertRefused(ibex.wire.ErrorReply.AUTH, in.read());
        }
    }

    @Test
    void aPlainTcpClient_onTheTlsAgentPort_getsNothingUseful_andTheServerKeepsServing() throws IOException {
        var port = s.rpc().getPort();
        for (int round = 0; round < 3; round++) {
            try (var socket = new Socket()) {
                socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
                socket.setSoTimeout(20_000);
                if (round > 0) {
                    // a plaintext agent's Hello; round 2 also sends garbage after it
                    socket.getOutputStream().write(Codec.encode(Hello.unauthenticated("plain-1", "id-p", "raw")));
                    if (round == 2) {
                        socket.getOutputStream().write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                    }
                    socket.getOutputStream().flush();
                }
                var got = new ByteArrayOutputStream();
                long began = System.nanoTime();
                try {
                    socket.getInputStream().transferTo(got);
                } catch (SocketTimeoutException e) {
                    throw new AssertionError("round " + round + ": the TLS port kept a plaintext client open for 20 s");
                } catch (IOException reset) {
                    // a reset is a fine way to say no
                }
                long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
                byte[] bytes = got.toByteArray();
                // no Greeting in clear text: a frame would start with a small u32 length (00 00 ..) and carry the server name
                assertFalse(bytes.length >= 5 && bytes[0] == 0 && bytes[4] == 0x01, "round " + round + ": a clear-text Greeting frame");
                assertFalse(new String(bytes, StandardCharsets.ISO_8859_1).contains("127.0.0.1:" + port), "round " + round + ": the server name in clear");
                if (round == 0) {
                    assertTrue(ms >= 3000 && ms < 17_000, "a silent plaintext client is dropped after the TLS hello timeout (12 s), took " + ms + " ms");
                }
            }
        }
        s.agent("tls-2", "tls-2", TOKEN, ca.caCert());
        s.assertRunsOn("tls-2");
    }

    @Test
    void anAgentTrustingAnotherCa_failsToConnect_andLogsWhy() throws Exception {
        var conf = dir.resolve("agentd-wrong-ca.conf");
        Files.writeString(conf, """
                MetaDir = "%s"

                [Log]
                Output = "stdout"

                [Heartbeat]
                Interval = 200
                Servers = ["127.0.0.1:%d"]
                Host = "tls-wrong-ca"
                Token = "%s"
                CAFile = "%s"
                """.formatted(dir.resolve("meta-wrong-ca"), s.rpc().getPort(), TOKEN, otherCa.caCert()));
        var p = new ProcessBuilder(System.getProperty("ibex.bin", "bin/ibex"), "agentd", "-c", conf.toString())
                .redirectErrorStream(true).start();
        var log = new StringBuffer();
        var reader = Thread.ofVirtual().start(() -> {
            try (var r = p.inputReader(StandardCharsets.UTF_8)) {
                String line;
                while ((line = r.readLine()) != null) {
                    log.append(line).append('\n');
                }
            } catch (IOException e) {
                // process ended
            }
        });
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline && !log.toString().contains("127.0.0.1:" + s.rpc().getPort() + ":")) {
                Thread.sleep(100);
            }
            String text = log.toString();
            assertContains(text, "server 127.0.0.1:" + s.rpc().getPort() + ":");
            assertTrue(text.contains("PKIX") || text.contains("certification path") || text.contains("certificate"),
                    "the log says the certificate is not trusted:\n" + text);
            assertFalse(text.contains("connected to"), text);
        } finally {
            p.destroy();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            reader.join(5000);
        }
        assertEquals(200, s.get("/ping").status(), "still serving");
    }

    private static SSLSocket tlsSocket(Path caFile) throws IOException {
        var f = Pem.context(null, null, caFile).getSocketFactory();
        var socket = (SSLSocket) f.createSocket("127.0.0.1", s.rpc().getPort());
        var params = socket.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        socket.setSSLParameters(params);
        socket.setSoTimeout(10_000);
        socket.startHandshake();
        return socket;
    }
}
