package ibex.wire;

import java.util.Objects;

/**
 * Type 0x03, server to agent: the handshake is accepted. The agent sends a {@link Heartbeat} every
 * {@code heartbeatMs} milliseconds from now on.
 */
public record Welcome(String server, int heartbeatMs) implements Message {
    public Welcome {
        Objects.requireNonNull(server, "server");
    }
}
