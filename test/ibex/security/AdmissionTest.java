package ibex.security;

import static ibex.security.SecureServer.TOKEN;
import static ibex.security.SecureServer.assertContains;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.wire.Welcome;
import java.io.IOException;
import java.util.ArrayList;
import org.junit.jupiter.api.Test;

/**
 * The agent port's admission limits, from outside: a server holding [RPC] MaxConnections refuses
 * the next connection with BUSY and takes one again once a connection is gone; one address cannot
 * hold more than 64 connections that have not said Hello, while other addresses, and that
 * address's welcomed agents, are not held back; a real agent refused as BUSY comes back by itself.
 */
class AdmissionTest {

    @Test
    void atMaxConnections_theNextIsRefusedWithBusy_andOneClosedMakesRoom() throws IOException {
        try (var server = SecureServer.start(SecureServer.Options.token().withRpc("MaxConnections = 3"))) {
            var held = new ArrayList<RawAgent>();
            try {
                for (int i = 0; i < 3; i++) {
                    var a = RawAgent.connect(server.rpc());
                    held.add(a);
                    assertInstanceOf(Welcome.class, a.handshake("full-" + i, TOKEN, RawAgent.newKeys()));
                }
                assertContains(RawAgent.refusedAtConnect(server.rpc(), null), "limit of 3 agent connections ([RPC] MaxConnections)");
                assertEquals(3, server.metric("ibex_agent_connections_open"));
                assertEquals(3, server.metric("ibex_agent_connections_max"));
                assertTrue(server.metric("ibex_agent_connections_refused_total") >= 1);
                assertEquals(200, server.get("/ping").status(), "the HTTP port is not held back");

                held.removeFirst().close();
                // The server sees the close when it reads the end of the stream: poll for the room.
                server.awaitMetric("ibex_agent_connections_open", n -> n == 2, 10, "the closed connection no longer counted");
                var again = RawAgent.connect(server.rpc());
                held.add(again);
                assertInstanceOf(Welcome.class, again.handshake("full-again", TOKEN, RawAgent.newKeys()));
            } finally {
                for (var a : held) {
                    a.close();
                }
            }
        }
    }

    @Test
    void oneAddressWith64SilentConnections_isRefusedMore_whileOtherAddressesAndItsWelcomedAgentsAreServed() throws IOException {
        try (var server = SecureServer.start(SecureServer.Options.token())) {
            var silent = new ArrayList<RawAgent>();
            try {
                for (int i = 0; i < 64; i++) {
                    silent.add(RawAgent.connect(server.rpc(), "127.0.0.1"));     // Greeting read, nothing said
                }
                assertContains(RawAgent.refusedAtConnect(server.rpc(), "127.0.0.1"),
                        "64 connections from 127.0.0.1 that have not completed their handshake");
                // One of the 64 completes its handshake: it leaves the address's count, and its
                // welcomed connection does not count against the address.
                assertInstanceOf(Welcome.class, silent.getFirst().handshake("nat-host-1", TOKEN, RawAgent.newKeys()));
                try (var next = RawAgent.connect(server.rpc(), "127.0.0.1")) {
                    assertInstanceOf(Welcome.class, next.handshake("nat-host-2", TOKEN, RawAgent.newKeys()));
                }
                try (var other = RawAgent.connect(server.rpc(), "127.0.0.2")) {
                    assertInstanceOf(Welcome.class, other.handshake("other-address", TOKEN, RawAgent.newKeys()));
                }
                // All of it within the 5 s Hello bound: no place was freed by a timeout.
                assertEquals(0, server.metric("ibex_handshake_timeouts_total"));
            } finally {
                for (var a : silent) {
                    a.close();
                }
            }
        }
    }

    @Test
    void aRefusedHandshake_andOneThatSaidNothing_giveTheirPlaceBack() throws IOException {
        try (var server = SecureServer.start(SecureServer.Options.token().withRpc("MaxConnections = 1"))) {
            try (var wrong = RawAgent.connect(server.rpc())) {
                RawAgent.assertRefused(ibex.wire.ErrorReply.AUTH, wrong.handshake("bad-token", "not-the-token-at-all", RawAgent.newKeys()));
                wrong.assertClosedByServer();
            }
            server.awaitMetric("ibex_agent_connections_open", n -> n == 0, 10, "the refused connection's place given back");
            try (var silent = RawAgent.connect(server.rpc())) {
                silent.assertClosedByServer();      // after the 5 s Hello bound
            }
            server.awaitMetric("ibex_agent_connections_open", n -> n == 0, 10, "the silent connection's place given back");
            assertEquals(1, server.metric("ibex_handshake_timeouts_total"));
            try (var good = RawAgent.connect(server.rpc())) {
                assertInstanceOf(Welcome.class, good.handshake("after-both", TOKEN, RawAgent.newKeys()));
            }
        }
    }

    @Test
    void aRealAgentRefusedAsBusy_connectsOnItsOwnOnceThereIsRoom() throws IOException {
        try (var server = SecureServer.start(SecureServer.Options.token().withRpc("MaxConnections = 1"))) {
            var holder = RawAgent.connect(server.rpc());
            assertInstanceOf(Welcome.class, holder.handshake("holder", TOKEN, RawAgent.newKeys()));
            assertEquals(0, server.metric("ibex_agent_connections_refused_total"));
            server.agent("busy-1");
            // Let the agent be refused at least once (it dials at once), then make room.
            server.awaitMetric("ibex_agent_connections_refused_total", n -> n > 0, 10, "the agent refused");
            holder.close();
            server.awaitMetric("ibex_agents_connected", n -> n == 0, 10, "the holder gone");
            // Refused, it waits 5 to 10 s (jittered) before dialling again.
            server.awaitMetric("ibex_agents_connected", n -> n == 1, 30, "the refused agent connected");
            long id = server.create(SecureServer.task("busy-1").set("action", "start"));
            server.awaitHost(id, "busy-1", "success");
        }
    }
}
