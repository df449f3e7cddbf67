package ibex.wire;

import java.util.Objects;

/**
 * Type 0x7F, either way: the last frame before the sender closes the connection. The codes are the
 * only copy; receivers of an unknown code treat it like {@link #INTERNAL}.
 */
public record ErrorReply(int code, String message) implements Message {
    /** Malformed frame, unexpected message for the connection's state. */
    public static final int PROTOCOL = 1;
    /** The Hello's protocol version is not the server's. */
    public static final int VERSION = 2;
    /** Authentication failed (reserved in protocol version 1). */
    public static final int AUTH = 3;
    /** Another agent (a different agentId) is connected for this host. */
    public static final int HOST_TAKEN = 4;
    /** A frame exceeded the receiver's limit. */
    public static final int TOO_LARGE = 5;
    /** The sender failed on its own side. */
    public static final int INTERNAL = 6;
    /** The server holds as many connections as it may take; the agent tries again later. */
    public static final int BUSY = 7;

    public ErrorReply {
        Objects.requireNonNull(message, "message");
    }

    /** The constant's name for logs, e.g. "HOST_TAKEN", or "code 42" for an unknown code. */
    public static String codeName(int code) {
        return switch (code) {
            case PROTOCOL -> "PROTOCOL";
            case VERSION -> "VERSION";
            case AUTH -> "AUTH";
            case HOST_TAKEN -> "HOST_TAKEN";
            case TOO_LARGE -> "TOO_LARGE";
            case INTERNAL -> "INTERNAL";
            case BUSY -> "BUSY";
            default -> "code " + code;
        };
    }
}
