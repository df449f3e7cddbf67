package ibex.server.rpc;

import java.net.InetAddress;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Which new connections the agent port takes. At most {@code max} connections in all, handshaking
 * or welcomed, so agents never use up the file descriptors that the HTTP port and the database
 * need; and at most {@link #HANDSHAKES_PER_ADDRESS} from one address that have not yet sent a
 * Hello that passed the checks, so one client opening connections and saying nothing cannot keep
 * other hosts out (each such connection is dropped after the Hello bound anyway). Welcomed agents
 * from one address are not limited: many hosts may share a NAT address.
 */
final class Admission {
    /** Connections from one address that may be waiting for, or checking, their Hello at once. */
    static final int HANDSHAKES_PER_ADDRESS = 64;

    /** What {@link #admit} decided about a new connection. */
    sealed interface Decision permits Ticket, Refusal {
    }

    /**
     * A connection let in: it is {@link #registered} at most once and {@link #closed} exactly once;
     * it counts against its address until the first of the two.
     */
    static final class Ticket implements Decision {
        private final InetAddress from;
        private final AtomicBoolean handshaking = new AtomicBoolean(true);

        private Ticket(InetAddress from) {
            this.from = from;
        }
    }

    /** A connection turned away, and why (for the agent and the log). */
    record Refusal(String why) implements Decision {
    }

    private final int max;
    private final AtomicInteger open = new AtomicInteger();
    private final ConcurrentHashMap<InetAddress, Integer> handshaking = new ConcurrentHashMap<>();

    Admission(int max) {
        this.max = max;
    }

    /** Counts the connection in (a {@link Ticket}) or says why it must be refused. */
    Decision admit(InetAddress from) {
        if (open.incrementAndGet() > max) {
            open.decrementAndGet();
            return new Refusal("this server holds its limit of " + max + " agent connections ([RPC] MaxConnections); the agent retries later");
        }
        boolean[] room = {false};
        handshaking.compute(from, (a, n) -> {
            int now = n == null ? 0 : n;
            room[0] = now < HANDSHAKES_PER_ADDRESS;
            return room[0] ? now + 1 : n;
        });
        if (!room[0]) {
            open.decrementAndGet();
            return new Refusal("this server already has " + HANDSHAKES_PER_ADDRESS + " connections from " + from.getHostAddress()
                    + " that have not completed their handshake; the agent retries later");
        }
        return new Ticket(from);
    }

    /** The connection's Hello passed the checks: it no longer counts against its address. */
    void registered(Ticket t) {
        if (t.handshaking.compareAndSet(true, false)) {
            leaveHandshake(t.from);
        }
    }

    /** The connection closed, registered or not. */
    void closed(Ticket t) {
        if (t.handshaking.getAndSet(false)) {
            leaveHandshake(t.from);
        }
        open.decrementAndGet();
    }

    private void leaveHandshake(InetAddress from) {
        handshaking.computeIfPresent(from, (a, n) -> n <= 1 ? null : n - 1);
    }

    /** Connections held now, handshaking or welcomed. */
    int open() {
        return open.get();
    }

    int max() {
        return max;
    }
}
