package ibex.security;

import static ibex.security.SecureServer.TOKEN;
import static ibex.security.SecureServer.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.eclipsesource.json.JsonArray;
import com.eclipsesource.json.JsonObject;
import ibex.wire.Assignments;
import ibex.wire.ErrorReply;
import ibex.wire.Heartbeat;
import ibex.wire.Hello;
import ibex.wire.Welcome;
import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.http.HttpRequest;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Limits on what comes from outside: request body, hosts per task, script, args, stdin, title,
 * account, creator, host names; on the agent port, frame size and handshake time. Every refusal is
 * a JSON err naming the limit and the value, never a 5xx.
 */
class LimitsTest {
    static SecureServer small;
    static SecureServer dflt;

    @BeforeAll
    static void start() throws IOException {
        small = SecureServer.start(SecureServer.Options.token().withHttp("MaxContentLength = 65536").withMore("""
                [Limits]
                MaxHosts = 5
                MaxScriptBytes = 1024
                MaxArgsBytes = 1024
                MaxStdinBytes = 2048
                """));
        dflt = SecureServer.start(SecureServer.Options.token());
    }

    @AfterAll
    static void stop() {
        if (small != null) {
            small.close();
        }
        if (dflt != null) {
            dflt.close();
        }
    }

    // ---- request body ----------------------------------------------------------------------------

    @Test
    void aBodyOverMaxContentLength_is413_namingTheLimit_withOrWithoutContentLength() {
        var big = SecureServer.task("limit-body").set("script", "#" + "x".repeat(70_000)).toString();
        for (var publisher : List.of(HttpRequest.BodyPublishers.ofString(big),
                HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big.getBytes())))) {
            var r = small.send(small.request("/ibex/v1/tasks").POST(publisher).build());
            assertEquals(413, r.status(), r::toString);
            assertEquals(new JsonObject().add("err", "request body larger than the limit of 65536 bytes"), r.json());
        }
        long id = small.create(SecureServer.task("limit-body"));
        for (var path : List.of("/ibex/v1/task/" + id + "/action", "/ibex/v1/task/" + id + "/host/limit-body/action")) {
            var r = small.put(path, "{\"action\":\"start\",\"pad\":\"" + "y".repeat(70_000) + "\"}");
            assertEquals(413, r.status(), () -> path + " → " + r);
            assertEquals("request body larger than the limit of 65536 bytes", r.err());
        }
        assertEquals("pause", small.task(id).getString("action", null), "the oversize action did nothing");
        assertEquals(1, small.count("limit-body"));
    }

    @Test
    void theDefaultBodyLimit_is4MiB() {
        var r = dflt.post("/ibex/v1/tasks", SecureServer.task("limit-4m").set("stdin", "z".repeat(4 * 1024 * 1024)).toString());
        assertEquals(413, r.status(), () -> r.status() + " " + r.body().substring(0, Math.min(200, r.body().length())));
        assertEquals("request body larger than the limit of 4194304 bytes", r.err());
    }

    // ---- task fields -----------------------------------------------------------------------------

    @Test
    void moreHostsThanMaxHosts_is400_namingTheLimitAndTheCount() {
        assertRefused(small, SecureServer.task("h1", "h2", "h3", "h4", "h5", "h6"), 400, "arg(hosts) has 6 hosts, more than the limit of 5");
        // duplicates and comments do not count
        long ok = small.create(SecureServer.task("h1", "h2", "h3", "h4", "h5", "h5", " h1 ", "#h7"));
        assertEquals(5, small.task(ok).get("hosts").asArray().size());

        var many = new JsonArray();
        for (int i = 0; i <= 10_000; i++) {
            many.add("bulk-" + i);
        }
        assertRefused(dflt, SecureServer.task().set("hosts", many), 400, "arg(hosts) has 10001 hosts, more than the limit of 10000");
    }

    @Test
    void scriptArgsAndStdinOverTheirLimits_are400_namingLimitAndSizeInBytes() {
        String twoByte = "é";   // 2 bytes in UTF-8: limits count bytes, not characters
        assertRefused(small, SecureServer.task("lim-1").set("script", "#!/bin/sh\n#" + twoByte.repeat(507)), 400,
                "arg(script) is 1025 bytes, more than the limit of 1024 bytes");
        assertRefused(small, SecureServer.task("lim-1").set("args", twoByte.repeat(513)), 400,
                "arg(args) is 1026 bytes, more than the limit of 1024 bytes");
        assertRefused(small, SecureServer.task("lim-1").set("stdin", "s".repeat(2049)), 400,
                "arg(stdin) is 2049 bytes, more than the limit of 2048 bytes");
        // at the limit: fine
        small.create(SecureServer.task("lim-ok").set("script", "#" + "x".repeat(1023)).set("args", "a".repeat(1024))
                .set("stdin", "s".repeat(2048)));
        assertEquals(0, small.count("lim-1"));
    }

    @Test
    void titleAccountAndCreatorOverTheirLimits_are400_namingLimitAndSize() {
        assertRefused(dflt, SecureServer.task("lim-t").set("title", "t".repeat(201)), 400,
                "arg(title) is 201 bytes, more than the limit of 200 bytes");
        assertRefused(dflt, SecureServer.task("lim-t").set("creator", "c".repeat(65)), 400,
                "arg(creator) is 65 bytes, more than the limit of 64 bytes");
        assertRefused(dflt, SecureServer.task("lim-t").set("account", "a".repeat(65)), 400,
                "arg(account) is 65 bytes, more than the limit of 64 bytes");
        assertRefused(dflt, SecureServer.task("lim-t").set("pause", "p".repeat(64 * 1024 + 1)), 400,
                "arg(pause) is 65537 bytes, more than the limit of 65536 bytes");
        assertEquals(0, dflt.count("lim-t"));
    }

    @Test
    void hostNamesWithSpacesQuotesSlashesOrOver128Characters_areRefused_namingTheHost() {
        for (var bad : List.of("web 1", "web\t1", "a\"b", "a'b", "a/b", "..\\x", "<host>", "a,b", "x\u0000y", "del\u007f")) {
            var r = dflt.post("/ibex/v1/tasks", SecureServer.task("lim-ok-host", bad).toString());
            assertTrue(r.status() == 200 || r.status() == 400, r::toString);
            assertEquals(List.of("err"), r.json().names(), () -> bad + " → " + r);
            assertEquals("host '" + bad + "' has a character that is not allowed in a host name", r.err());
        }
        var longest = "h".repeat(128);
        dflt.create(SecureServer.task(longest));
        var tooLong = "h".repeat(129);
        var r = dflt.post("/ibex/v1/tasks", SecureServer.task(tooLong).toString());
        assertTrue(r.status() == 200 || r.status() == 400, r::toString);
        assertEquals("host '" + "h".repeat(32) + "...' is longer than 128 characters", r.err());
        assertEquals(0, dflt.count("lim-ok-host"));
    }

    // ---- agent port ------------------------------------------------------------------------------

    @Test
    void aHalfOpenAgentConnection_isDroppedAfterAboutFiveSeconds() throws IOException {
        try (var a = RawAgent.connect(dflt.rpc())) {
            long began = System.nanoTime();
            a.socket.setSoTimeout(15_000);
            try {
                var m = a.in.read();
                fail("the server answered a silent client with " + m);
            } catch (EOFException | SocketException closed) {
                // dropped without a reply
            } catch (SocketTimeoutException e) {
                fail("a silent connection was still open after 15 s");
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
            assertTrue(ms >= 4000 && ms <= 10_000, "dropped after " + ms + " ms");
        }
    }

    @Test
    void aWelcomedAgentThatFallsSilent_isClosedAfterThreeIntervalsAndTheGrace_andOneThatBeats_isNot() throws IOException {
        try (var silent = RawAgent.connect(dflt.rpc()); var beating = RawAgent.connect(dflt.rpc())) {
            assertInstanceOf(Welcome.class, silent.handshake("falls-silent", TOKEN, RawAgent.newKeys()));
            assertInstanceOf(Welcome.class, beating.handshake("keeps-beating", TOKEN, RawAgent.newKeys()));
            long began = System.nanoTime();
            silent.socket.setSoTimeout(1000);
            boolean closed = false;
            for (int seq = 1; !closed && seq <= 20; seq++) {
                beating.out.write(new Heartbeat(seq, List.of()));
                assertEquals(seq, reply(beating), "the beating agent is answered throughout");
                try {
                    silent.in.read();   // the push after Welcome, then nothing until the close
                } catch (EOFException | SocketException e) {
                    closed = true;
                } catch (SocketTimeoutException e) {
                    // still open
                }
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
            assertTrue(closed, "a silent welcomed agent was still connected after " + ms + " ms");
            // Interval 1000 ms: 3 intervals + 5 s grace = 8 s.
            assertTrue(ms >= 7000 && ms <= 14_000, "closed after " + ms + " ms");
        }
    }

    @Test
    void largeReportsFromManyAgentsAtOnce_beyondTheServersBudgetForLargeFrames_areAllReadAndAcked() throws Exception {
        // 24 agents × 7 MiB is more than the 128 MiB the server lets large frames hold at once: some
        // wait, unread, until others are handled. Every one must still be answered, twice over, so
        // the budget is given back after each frame.
        int agents = 24;
        var stdout = "x".repeat(7 * 1024 * 1024);
        var conns = new ArrayList<RawAgent>();
        var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();
        try {
            for (int i = 0; i < agents; i++) {
                var a = RawAgent.connect(dflt.rpc());
                conns.add(a);
                assertInstanceOf(Welcome.class, a.handshake("big-report-" + i, TOKEN, RawAgent.newKeys()));
                a.socket.setSoTimeout(60_000);
            }
            for (int round = 1; round <= 2; round++) {
                long seq = 100 + round;
                long task = 900_000 + round;
                var replies = new ArrayList<java.util.concurrent.Future<Assignments>>();
                for (var a : conns) {
                    replies.add(pool.submit(() -> {
                        a.out.write(new Heartbeat(seq, List.of(new Heartbeat.Report(task, 1, ibex.core.HostStatus.SUCCESS, 0, 0,
                                stdout, 0, ""))));
                        for (;;) {
                            var m = assertInstanceOf(Assignments.class, a.in.read());
                            if (m.ackSeq() == seq) {
                                return m;
                            }
                        }
                    }));
                }
                for (var r : replies) {
                    assertEquals(List.of(new Assignments.Ack(task, 1)), r.get(60, TimeUnit.SECONDS).acks(), "round " + round);
                }
            }
        } finally {
            // Closing the sockets first ends any write the server stopped reading, so a failure here
            // fails the test instead of hanging it.
            for (var a : conns) {
                a.close();
            }
            pool.shutdownNow();
        }
        assertEquals(200, dflt.get("/ping").status());
    }

    // Regression (found failing, fixed in c3523aa): the hello timeout was a read timeout (SO_TIMEOUT), renewed by every byte; a client that
    // drips one byte of its Hello every second holds the connection (and its virtual thread) for as
    // long as it likes. Issue 5 §4: "handshake time (a half-open connection is dropped after a few
    // seconds)". Expected: the whole handshake bounded by Frames.HELLO_TIMEOUT_MS.
    @Test
    void aClientDrippingItsHelloOneByteASecond_isDroppedWithinTheHandshakeTime() throws IOException {
        try (var a = RawAgent.connect(dflt.rpc())) {
            byte[] hello = RawAgent.frame(a.hello("drip-1", "id-drip", TOKEN, RawAgent.newKeys()));
            long began = System.nanoTime();
            boolean dropped = false;
            for (int i = 0; i < hello.length - 1 && TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - began) < 12; i++) {
                try {
                    a.sendBytes(new byte[] {hello[i]});
                } catch (IOException closed) {
                    dropped = true;
                    break;
                }
                SecureServer.sleep(1000);
                if (serverClosed(a)) {
                    dropped = true;
                    break;
                }
            }
            long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - began);
            assertTrue(dropped && ms <= 10_000, "a dripping handshake was still open after " + ms + " ms");
        }
    }

    @Test
    void aFrameWithAHugeLengthPrefix_getsTooLarge_andClose_andTheServerKeepsServing() throws IOException {
        for (long length : List.of(0xFFFF_FFFFL, 0x8000_0000L, 16L * 1024 * 1024 + 1)) {
            try (var a = RawAgent.connect(dflt.rpc())) {
                a.sendBytes(new byte[] {(byte) (length >>> 24), (byte) (length >>> 16), (byte) (length >>> 8), (byte) length, 0x02});
                var msg = RawAgent.assertRefused(ErrorReply.TOO_LARGE, a.in.read());
                assertContains(msg, "frame of " + length + " bytes exceeds the limit of 16777216 bytes");
                a.assertClosedByServer();
            }
        }
        try (var a = RawAgent.connect(dflt.rpc())) {
            assertInstanceOf(Welcome.class, a.handshake("after-huge", TOKEN, RawAgent.newKeys()));
        }
        assertEquals(200, dflt.get("/ping").status());
    }

    @Test
    void afterWelcome_aHeartbeatInDrips_isAnswered_andABadFrame_isRefusedAndClosed_whileOthersAreServed() throws Exception {
        try (var calm = RawAgent.connect(dflt.rpc()); var dripping = RawAgent.connect(dflt.rpc())) {
            assertInstanceOf(Welcome.class, calm.handshake("after-welcome-calm", TOKEN, RawAgent.newKeys()));
            assertInstanceOf(Welcome.class, dripping.handshake("after-welcome-drip", TOKEN, RawAgent.newKeys()));
            // The server reads a welcomed connection as bytes arrive: a frame split anywhere is one frame.
            byte[] beat = RawAgent.frame(new Heartbeat(41, List.of()));
            for (byte b : beat) {
                dripping.sendBytes(new byte[] {b});
                Thread.sleep(20);
            }
            assertEquals(41, reply(dripping));
            var two = new java.io.ByteArrayOutputStream();
            two.writeBytes(RawAgent.frame(new Heartbeat(42, List.of())));
            two.writeBytes(RawAgent.frame(new Heartbeat(43, List.of())));
            dripping.sendBytes(two.toByteArray());
            assertEquals(42, reply(dripping), "two frames in one write: both answered, in order");
            assertEquals(43, reply(dripping));

            dripping.sendBytes(new byte[] {(byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, 0x02});
            assertContains(RawAgent.assertRefused(ErrorReply.TOO_LARGE, dripping.in.read()), "exceeds the limit of 16777216 bytes");
            dripping.assertClosedByServer();

            calm.out.write(new Heartbeat(7, List.of()));
            assertEquals(7, reply(calm), "the other agent is still served");
        }
        try (var a = RawAgent.connect(dflt.rpc())) {
            assertInstanceOf(Welcome.class, a.handshake("after-welcome-garbage", TOKEN, RawAgent.newKeys()));
            a.out.write(new Heartbeat(1, List.of()));
            assertEquals(1, reply(a));
            a.sendBytes(new byte[] {0, 0, 0, 1, 0x42});
            assertContains(RawAgent.assertRefused(ErrorReply.PROTOCOL, a.in.read()), "unknown message type 0x42");
            a.assertClosedByServer();
        }
    }

    // Regression (found failing, fixed in c3523aa): agent_key.agent_id is varchar(64) but the Hello's agentId is not checked; an agent with
    // the token and a longer agentId makes the pin INSERT fail and gets ErrorReply INTERNAL ("internal
    // error") instead of a refusal that names the limit. Expected: PROTOCOL (or AUTH) naming 64.
    @Test
    void anOverlongAgentId_isRefusedNamingTheLimit_notAnInternalError() throws IOException {
        try (var a = RawAgent.connect(dflt.rpc())) {
            var reply = a.send(a.hello("long-id-1", "i".repeat(300), TOKEN, RawAgent.newKeys()));
            var e = assertInstanceOf(ErrorReply.class, reply, reply::toString);
            assertTrue(e.code() == ErrorReply.PROTOCOL || e.code() == ErrorReply.AUTH,
                    () -> ErrorReply.codeName(e.code()) + ": " + e.message());
            assertContains(e.message(), "64");
        }
        try (var a = RawAgent.connect(dflt.rpc())) {
            assertInstanceOf(Welcome.class, a.send(a.hello("long-id-1", "i".repeat(64), TOKEN, RawAgent.newKeys())));
        }
    }

    @Test
    void aHelloWithABadHostName_isRefused_beforeAnyAuthOrPin() throws IOException {
        for (var host : List.of("a b", "x/y", "h".repeat(129), "q\"uote")) {
            try (var a = RawAgent.connect(dflt.rpc())) {
                var msg = RawAgent.assertRefused(ErrorReply.PROTOCOL, a.send(Hello.unauthenticated(host, "id", "raw")));
                assertContains(msg, "host '");
                a.assertClosedByServer();
            }
        }
    }

    // ---- helpers ---------------------------------------------------------------------------------

    /** The seq a heartbeat reply acknowledges, skipping pushes (Assignments with seq 0). */
    private static long reply(RawAgent a) throws IOException {
        for (;;) {
            long seq = assertInstanceOf(Assignments.class, a.in.read()).ackSeq();
            if (seq != 0) {
                return seq;
            }
        }
    }

    private static void assertRefused(SecureServer s, JsonObject body, int status, String err) {
        var r = s.post("/ibex/v1/tasks", body.toString());
        assertEquals(status, r.status(), r::toString);
        assertEquals(new JsonObject().add("err", err), r.json());
    }

    /** True when the server has closed the connection (a read sees EOF or reset right away). */
    private static boolean serverClosed(RawAgent a) {
        try {
            a.socket.setSoTimeout(1);
            int b = a.socket.getInputStream().read();
            return b < 0;
        } catch (SocketTimeoutException open) {
            return false;
        } catch (IOException closed) {
            return true;
        }
    }
}
