package ibex.security;

import static ibex.security.SecureServer.TOKEN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import ibex.core.InvalidTask;
import ibex.core.TaskSpec;
import ibex.wire.Assignments;
import ibex.wire.Codec;
import ibex.wire.ErrorReply;
import ibex.wire.FrameReader;
import ibex.wire.Frames;
import ibex.wire.Greeting;
import ibex.wire.Handshake;
import ibex.wire.Heartbeat;
import ibex.wire.Hello;
import ibex.wire.Message;
import ibex.wire.ScriptRequest;
import ibex.wire.Welcome;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.security.KeyPair;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The handshake of a real server port with [RPC] Token, fuzzed from a fixed seed: valid Hellos,
 * bit-flipped and field-mutated Hellos, truncated frames, random bytes, huge length prefixes,
 * other messages first, wrong versions, slow senders that drip their bytes. For every connection
 * the server answers Welcome only to an authentic Hello (proof of the token over this connection's
 * nonce, signature of the key), otherwise an ErrorReply other than INTERNAL or a close; never a
 * hang. Afterwards a real agent still connects and runs a script.
 * {@code make fuzz} runs it with more iterations ({@code -Dibex.fuzz.iterations}).
 */
class HandshakeFuzzTest {
    private static final long SEED = 0x1BE5_4A5DL;
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

    /** What one connection got back. */
    enum Outcome { WELCOME, REFUSED, CLOSED }

    @Test
    void fuzzedHandshakes_fixedSeed_neverGetInUnlessAuthentic_neverCrashTheServer() throws Exception {
        long seed = Fuzz.seed(SEED);
        int n = Fuzz.iterations(400);
        var failures = new ConcurrentLinkedQueue<String>();
        Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
        try (var pool = Executors.newFixedThreadPool(16)) {
            for (int i = 0; i < n; i++) {
                long caseSeed = seed * 1_000_003L + i;
                int iteration = i;
                pool.submit(() -> {
                    try {
                        var label = one(iteration, new Random(caseSeed));
                        seen.computeIfAbsent(label, k -> new AtomicInteger()).incrementAndGet();
                    } catch (Throwable t) {
                        failures.add("iteration " + iteration + " (seed " + seed + "): " + t);
                    }
                });
            }
        }
        if (!failures.isEmpty()) {
            fail(failures.size() + " bad outcomes, first ones:\n  " + String.join("\n  ", failures.stream().limit(10).toList()));
        }
        // the mix stays meaningful: real agents got in, and every kind of refusal happened
        for (var must : List.of("valid:WELCOME", "drip:WELCOME", "huge-length:REFUSED TOO_LARGE", "not-hello:REFUSED PROTOCOL",
                "version:REFUSED VERSION", "fields:REFUSED AUTH", "truncated:REFUSED PROTOCOL")) {
            assertTrue(seen.containsKey(must), "no " + must + " in " + seen);
        }
        // the server is alive and still accepts a proper agent
        s.agent("hf-after");
        s.assertRunsOn("hf-after");
    }

    /** One connection; returns "kind:OUTCOME [code]". */
    private static String one(int i, Random r) throws Exception {
        try (var socket = new Socket()) {
            socket.connect(s.rpc(), 5000);
            socket.setSoTimeout(20_000);
            var in = new FrameReader(socket.getInputStream(), Frames.DEFAULT_MAX);
            var greeting = assertInstanceOf(Greeting.class, in.read());
            byte[] nonce = greeting.nonce();
            var keys = RawAgent.newKeys();
            String host = "hf-" + i;
            Hello valid = Handshake.hello(nonce, host, "agent-" + i, "fuzz", TOKEN, keys);
            byte[] validFrame = Codec.encode(valid);
            var out = socket.getOutputStream();
            String kind;
            byte[] send;
            boolean drip = false;
            switch (r.nextInt(10)) {
                case 0 -> { kind = "valid"; send = validFrame; }
                case 1 -> { kind = "flipped"; send = flip(r, validFrame); }
                case 2 -> { kind = "truncated"; send = Arrays.copyOf(validFrame, 1 + r.nextInt(validFrame.length - 1)); }
                case 3 -> { kind = "random"; send = random(r); }
                case 4 -> { kind = "huge-length"; send = hugeLength(r, validFrame); }
                case 5 -> { kind = "not-hello"; send = Codec.encode(notHello(r, nonce)); }
                case 6 -> {
                    kind = "version";
                    int v = r.nextBoolean() ? Frames.PROTOCOL_VERSION + 1 + r.nextInt(1000) : -r.nextInt(1000);
                    send = Codec.encode(new Hello(v, host, valid.agentId(), "fuzz", valid.proof(), valid.publicKey(), valid.signature()));
                }
                case 7, 8 -> { kind = "fields"; send = Codec.encode(mutateFields(r, valid, nonce, keys)); }
                default -> { kind = "drip"; send = validFrame; drip = true; }
            }
            if (drip) {
                for (int at = 0; at < send.length; ) {
                    int len = Math.min(send.length - at, 1 + r.nextInt(24));
                    out.write(send, at, len);
                    out.flush();
                    at += len;
                    Thread.sleep(5 + r.nextInt(40));
                }
            } else {
                out.write(send);
                out.flush();
            }
            socket.shutdownOutput();   // the stream ends where our bytes end: no waiting for the hello timeout

            Message reply;
            Outcome outcome;
            try {
                reply = in.read();
                outcome = reply instanceof Welcome ? Outcome.WELCOME : Outcome.REFUSED;
            } catch (EOFException | SocketException closed) {
                reply = null;
                outcome = Outcome.CLOSED;
            } catch (SocketTimeoutException hang) {
                throw new AssertionError(kind + ": no answer and no close within 20 s; sent " + hex(send));
            }
            if (reply instanceof ErrorReply e) {
                if (e.code() == ErrorReply.INTERNAL) {
                    throw new AssertionError(kind + ": INTERNAL " + e.message() + "; sent " + hex(send));
                }
                assertTrue(e.code() >= ErrorReply.PROTOCOL && e.code() <= ErrorReply.TOO_LARGE, e::toString);
            } else if (reply != null && !(reply instanceof Welcome)) {
                throw new AssertionError(kind + ": answered " + reply + " to a handshake");
            }
            if (outcome == Outcome.WELCOME) {
                var sent = decodeHello(send);
                if (sent == null || !authentic(sent, nonce)) {
                    throw new AssertionError(kind + ": WELCOMED a Hello that is not authentic: " + sent + "; sent " + hex(send));
                }
            }
            if (kind.equals("valid") || kind.equals("drip")) {
                assertEquals(Outcome.WELCOME, outcome, () -> kind + ": a valid Hello must get in");
            }
            return kind + ":" + outcome + (reply instanceof ErrorReply e ? " " + ErrorReply.codeName(e.code()) : "");
        }
    }

    /** The Hello the bytes hold as the first frame, or null. */
    private static Hello decodeHello(byte[] bytes) {
        try {
            return new FrameReader(new ByteArrayInputStream(bytes), Frames.DEFAULT_MAX).read() instanceof Hello h ? h : null;
        } catch (IOException e) {
            return null;
        }
    }

    /** What the server must check before it welcomes: version, host name, token proof and key signature. */
    private static boolean authentic(Hello h, byte[] nonce) {
        if (h.protocolVersion() != Frames.PROTOCOL_VERSION) {
            return false;
        }
        try {
            TaskSpec.checkHost(h.host());
        } catch (InvalidTask e) {
            return false;
        }
        var t = Handshake.transcript(nonce, h.host(), h.agentId(), h.publicKey());
        return Handshake.proofMatches(TOKEN, t, h.proof()) && Handshake.signatureMatches(h.publicKey(), t, h.signature());
    }

    private static Hello mutateFields(Random r, Hello v, byte[] nonce, KeyPair keys) {
        String host = v.host();
        String agentId = v.agentId();
        byte[] proof = v.proof();
        byte[] pub = v.publicKey();
        byte[] sig = v.signature();
        switch (r.nextInt(9)) {
            case 0 -> proof = new byte[0];
            case 1 -> {
                proof = proof.clone();
                proof[r.nextInt(proof.length)] ^= 1;
            }
            case 2 -> proof = Handshake.proof("not-the-token-but-long", Handshake.transcript(nonce, host, agentId, pub));
            case 3 -> host = pick(r, "", "a b", "x/y", "h".repeat(129), "\u00e9t\u00e9", "\uD83D\uDE00", "host\u0000", v.host() + "x");
            case 4 -> pub = RawAgent.newKeys().getPublic().getEncoded();
            case 5 -> sig = new byte[64];
            case 6 -> {
                pub = new byte[0];
                sig = new byte[0];
            }
            case 7 -> {
                // proof recomputed for a changed host: authentic only if the signature follows, which it does not
                host = v.host() + "-other";
                proof = Handshake.proof(TOKEN, Handshake.transcript(nonce, host, agentId, pub));
            }
            default -> {
                // a fully authentic Hello for an odd but legal host name (agentId within its 64 characters)
                host = pick(r, "\u00e9t\u00e9-" + v.host(), v.host() + ".example.com", v.host().toUpperCase());
                agentId = "x".repeat(1 + r.nextInt(64));
                return Handshake.hello(nonce, host, agentId, "fuzz", TOKEN, keys);
            }
        }
        return new Hello(v.protocolVersion(), host, agentId, v.agentVersion(), proof, pub, sig);
    }

    private static Message notHello(Random r, byte[] nonce) {
        return switch (r.nextInt(6)) {
            case 0 -> new Heartbeat(1, List.of());
            case 1 -> new Welcome("me", 1000);
            case 2 -> new Greeting(Frames.PROTOCOL_VERSION, "me", nonce);
            case 3 -> new ScriptRequest(r.nextLong());
            case 4 -> new Assignments(0, List.of(), List.of());
            default -> new ErrorReply(ErrorReply.AUTH, "nope");
        };
    }

    private static byte[] flip(Random r, byte[] frame) {
        var out = frame.clone();
        for (int k = 1 + r.nextInt(3); k > 0; k--) {
            int at = r.nextBoolean() ? r.nextInt(Math.min(out.length, 40)) : r.nextInt(out.length);
            out[at] ^= (byte) (1 << r.nextInt(8));
        }
        return out;
    }

    private static byte[] random(Random r) {
        var b = new byte[r.nextInt(300)];
        r.nextBytes(b);
        if (b.length > 5 && r.nextBoolean()) {
            int len = b.length - 4;
            b[0] = 0;
            b[1] = 0;
            b[2] = (byte) (len >>> 8);
            b[3] = (byte) len;
            b[4] = 0x02;   // a Hello with a random body
        }
        return b;
    }

    private static byte[] hugeLength(Random r, byte[] frame) {
        var out = frame.clone();
        long length = pick(r, 0xFFFF_FFFFL, (long) Frames.DEFAULT_MAX + 1, 0x7FFF_FFFFL, 0x8000_0000L, (long) Frames.DEFAULT_MAX + 1 + r.nextInt(1 << 20));
        out[0] = (byte) (length >>> 24);
        out[1] = (byte) (length >>> 16);
        out[2] = (byte) (length >>> 8);
        out[3] = (byte) length;
        return out;
    }

    @SafeVarargs
    private static <T> T pick(Random r, T... options) {
        return options[r.nextInt(options.length)];
    }

    private static String hex(byte[] b) {
        return HexFormat.of().formatHex(b, 0, Math.min(b.length, 200)) + (b.length > 200 ? "...(" + b.length + " bytes)" : "");
    }
}
