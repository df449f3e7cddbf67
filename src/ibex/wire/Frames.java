package ibex.wire;

/** Constants both ends of the agent protocol must agree on; the meaning is in package-info. */
public final class Frames {
    /** Sent in {@link Greeting} and {@link Hello}; both must be equal or the server refuses. */
    public static final int PROTOCOL_VERSION = 1;

    /** Default upper bound of a frame's length field (type byte + body): 16 MiB. */
    public static final int DEFAULT_MAX = 16 * 1024 * 1024;

    /** How long the server waits for {@link Hello} after sending {@link Greeting}. */
    public static final int HELLO_TIMEOUT_MS = 5_000;

    /**
     * The same bound on a TLS agent port, where it also covers the TLS handshake: the agent runs
     * in the interpreter (for its memory, BENCHMARKS.md P4), where one TLS handshake's key exchange
     * and certificate checks take seconds, more on a loaded host.
     */
    public static final int TLS_HELLO_TIMEOUT_MS = 12_000;

    /** A peer that has sent no frame for this many heartbeat intervals (plus a grace) is considered gone. */
    public static final int MISSED_HEARTBEATS = 3;

    /**
     * How long either side waits for a frame before it closes the connection: three intervals
     * plus 5 s. The grace keeps a busy peer alive: a server taking 18,000 reconnecting agents at
     * once, or a loaded host, can be seconds late, and closing it then makes the storm worse
     * (BENCHMARKS.md P1).
     */
    public static int deadAfterMs(int heartbeatMs) {
        return MISSED_HEARTBEATS * Math.max(heartbeatMs, 1000) + 5000;
    }

    private Frames() {
    }
}
