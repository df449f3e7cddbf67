package ibex.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.fail;

import ibex.wire.Codec;
import ibex.wire.ErrorReply;
import ibex.wire.FrameReader;
import ibex.wire.FrameWriter;
import ibex.wire.Frames;
import ibex.wire.Greeting;
import ibex.wire.Handshake;
import ibex.wire.Hello;
import ibex.wire.Message;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.NoSuchAlgorithmException;
import java.util.UUID;

/**
 * A hand-driven agent connection: plain socket, the real frame reader and writer, so a test can
 * send exactly the Hello it wants (no proof, a wrong token, a replayed one, raw bytes).
 */
final class RawAgent implements AutoCloseable {
    final Socket socket;
    final FrameReader in;
    final FrameWriter out;
    final OutputStream raw;
    /** The server's first frame. */
    final Greeting greeting;

    private RawAgent(Socket socket) throws IOException {
        this.socket = socket;
        socket.setSoTimeout(10_000);
        this.in = new FrameReader(new BufferedInputStream(socket.getInputStream()), Frames.DEFAULT_MAX);
        this.raw = socket.getOutputStream();
        this.out = new FrameWriter(raw);
        this.greeting = assertInstanceOf(Greeting.class, in.read(), "the server speaks first");
        assertEquals(Frames.PROTOCOL_VERSION, greeting.protocolVersion());
        assertEquals(Greeting.NONCE_BYTES, greeting.nonce().length);
    }

    static RawAgent connect(InetSocketAddress server) throws IOException {
        return connect(server, null);
    }

    /** A raw agent over a socket already connected (a TLS one, its handshake done). */
    static RawAgent over(Socket connected) throws IOException {
        return new RawAgent(connected);
    }

    /** Connects from the loopback address {@code from} (any of 127.0.0.0/8), or the system's choice when null. */
    static RawAgent connect(InetSocketAddress server, String from) throws IOException {
        return new RawAgent(open(server, from));
    }

    /**
     * Connects from {@code from} expecting the server to refuse at once: returns the text of its
     * BUSY reply, after checking that the server then closed the connection.
     */
    static String refusedAtConnect(InetSocketAddress server, String from) throws IOException {
        try (var s = open(server, from)) {
            s.setSoTimeout(10_000);
            var in = new FrameReader(new BufferedInputStream(s.getInputStream()), Frames.DEFAULT_MAX);
            var reply = assertInstanceOf(ErrorReply.class, in.read(), "a refusal instead of the Greeting");
            assertEquals(ErrorReply.BUSY, reply.code(), reply::message);
            try {
                fail("expected the server to close the connection, got " + in.read());
            } catch (EOFException | SocketException expected) {
                // closed
            }
            return reply.message();
        }
    }

    private static Socket open(InetSocketAddress server, String from) throws IOException {
        var s = new Socket();
        if (from != null) {
            s.bind(new InetSocketAddress(from, 0));
        }
        s.connect(server, 5000);
        s.setTcpNoDelay(true);
        return s;
    }

    static KeyPair newKeys() {
        try {
            return KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        } catch (NoSuchAlgorithmException e) {
            throw new AssertionError(e);
        }
    }

    /** A Hello as a real agent computes it for this connection's nonce. */
    Hello hello(String host, String agentId, String token, KeyPair keys) {
        return Handshake.hello(greeting.nonce(), host, agentId, "raw-test", token, keys);
    }

    /** Sends the Hello and returns the server's answer (Welcome or ErrorReply). */
    Message send(Hello hello) throws IOException {
        out.write(hello);
        return in.read();
    }

    Message handshake(String host, String token, KeyPair keys) throws IOException {
        return send(hello(host, UUID.randomUUID().toString(), token, keys));
    }

    void sendBytes(byte[] bytes) throws IOException {
        raw.write(bytes);
        raw.flush();
    }

    static byte[] frame(Message m) {
        return Codec.encode(m);
    }

    /** The answer must be ErrorReply with {@code code}; returns its message. */
    static String assertRefused(int code, Message reply) {
        var e = assertInstanceOf(ErrorReply.class, reply, () -> "expected ErrorReply " + ErrorReply.codeName(code) + ", got " + reply);
        assertEquals(ErrorReply.codeName(code), ErrorReply.codeName(e.code()), e::message);
        return e.message();
    }

    /** After a refusal the server closes: the next read ends the stream (EOF or reset) within 10 s. */
    void assertClosedByServer() throws IOException {
        socket.setSoTimeout(10_000);
        try {
            var m = in.read();
            fail("expected the server to close the connection, got " + m);
        } catch (EOFException | SocketException expected) {
            // closed
        } catch (SocketTimeoutException e) {
            fail("the server kept the connection open for 10 s");
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
