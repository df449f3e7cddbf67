package ibex.security;

import static ibex.security.SecureServer.TOKEN;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.wire.ErrorReply;
import ibex.wire.Message;
import ibex.wire.Welcome;
import java.util.ArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

/**
 * package-info: "The server answers Welcome (accepted) or ErrorReply": after a Hello the first frame
 * an agent receives is Welcome, even when tasks for its host are being started at that moment.
 */
class WelcomeFirstTest {

    // Regression (found failing, fixed in bc7d059): AgentSession.run registered the session with the hub (hub.register) before it writes
    // Welcome, and in between queries the store and records presence. A push for that host in the
    // window (AgentHub.apply → AgentSession.change → flushSoon → flush on another thread) writes
    // TaskScript and Assignments BEFORE Welcome. The real agent then fails with "expected Welcome,
    // got TaskScript" and reconnects (seen in TlsTest's log). Expected: pushes wait until Welcome is out.
    @Test
    void theFirstFrameAfterHello_isWelcome_evenWhileTasksForTheHostAreStarting() throws Exception {
        try (var s = SecureServer.start(SecureServer.Options.token())) {
            var keys = RawAgent.newKeys();
            var stop = new AtomicBoolean();
            var creator = Thread.ofPlatform().start(() -> {
                while (!stop.get()) {
                    s.create(SecureServer.task("race-1").set("action", "start").set("script", "#!/bin/sh\nexec sleep 60\n"));
                }
            });
            var wrong = new ArrayList<String>();
            try {
                long deadline = System.nanoTime() + 8_000_000_000L;
                int connects = 0;
                while (System.nanoTime() < deadline && wrong.isEmpty()) {
                    try (var a = RawAgent.connect(s.rpc())) {
                        Message first = a.send(a.hello("race-1", "race-agent", TOKEN, keys));
                        connects++;
                        if (!(first instanceof Welcome)) {
                            wrong.add("connection " + connects + ": first frame after Hello was " + describe(first));
                        }
                    }
                }
                assertTrue(connects > 20 || !wrong.isEmpty(), "only " + connects + " connections");
            } finally {
                stop.set(true);
                creator.join(20_000);
            }
            assertTrue(wrong.isEmpty(), String.join("\n", wrong));
        }
    }

    private static String describe(Message m) {
        return m instanceof ErrorReply e ? "ErrorReply " + ErrorReply.codeName(e.code()) + ": " + e.message() : m.getClass().getSimpleName();
    }
}
