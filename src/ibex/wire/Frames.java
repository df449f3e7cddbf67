package ibex.wire;

/** Constants both ends of the agent protocol must agree on; the meaning is in package-info. */
public final class Frames {
    /** Sent in {@link Greeting} and {@link Hello}; both must be equal or the server refuses. */
    public static final int PROTOCOL_VERSION = 1;

    /** Default upper bound of a frame's length field (type byte + body): 16 MiB. */
    public static final int DEFAULT_MAX = 16 * 1024 * 1024;

    /** How long the server waits for {@link Hello} after sending {@link Greeting}. */
    public static final int HELLO_TIMEOUT_MS = 5_000;

    /** A peer that has sent no frame for this many heartbeat intervals is considered gone. */
    public static final int MISSED_HEARTBEATS = 3;

    private Frames() {
    }
}
