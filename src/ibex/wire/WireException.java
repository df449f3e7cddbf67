package ibex.wire;

import java.io.IOException;

/**
 * The bytes on the connection break the protocol: bad length, unknown type, truncated or malformed
 * field, trailing bytes. The receiver answers {@link ErrorReply} (code {@link ErrorReply#PROTOCOL}
 * or {@link ErrorReply#TOO_LARGE}) and closes that connection.
 */
public final class WireException extends IOException {
    public WireException(String message) {
        super(message);
    }
}
