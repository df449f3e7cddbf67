package ibex.wire;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.util.Objects;

/**
 * Reads frames from one stream, one at a time; one reader thread per connection. The length prefix
 * is checked against the limit before anything is allocated, and the body is read with
 * {@link InputStream#readNBytes(int)}, which grows its buffer as bytes arrive: a peer that announces
 * 16 MiB and sends 10 bytes costs 10 bytes, not 16 MiB.
 */
public final class FrameReader {
    private final InputStream in;
    private final int maxFrameBytes;

    /** @param maxFrameBytes the largest length field accepted (type byte + body), at least 1 */
    public FrameReader(InputStream in, int maxFrameBytes) {
        if (maxFrameBytes < 1) {
            throw new IllegalArgumentException("maxFrameBytes must be at least 1, got " + maxFrameBytes);
        }
        this.in = Objects.requireNonNull(in, "in");
        this.maxFrameBytes = maxFrameBytes;
    }

    /**
     * The next message. {@link EOFException} when the stream ends cleanly before a frame starts;
     * {@link WireException} for a truncated, oversize or malformed frame; other IOExceptions come from
     * the stream.
     */
    public Message read() throws IOException {
        var prefix = new byte[4];
        int got = in.readNBytes(prefix, 0, 4);
        if (got == 0) {
            throw new EOFException("connection closed");
        }
        if (got < 4) {
            throw truncated(4, got);
        }
        long length = (prefix[0] & 0xFFL) << 24 | (prefix[1] & 0xFF) << 16 | (prefix[2] & 0xFF) << 8
                | (prefix[3] & 0xFF);
        if (length == 0) {
            throw new WireException("frame length 0 is invalid: a frame holds at least its type byte");
        }
        if (length > maxFrameBytes) {
            throw new WireException("frame of " + length + " bytes exceeds the limit of " + maxFrameBytes + " bytes");
        }
        int type = in.read();
        if (type < 0) {
            throw truncated(4 + length, 4);
        }
        byte[] body = in.readNBytes((int) length - 1);
        if (body.length < length - 1) {
            throw truncated(4 + length, 5 + body.length);
        }
        return Codec.decode(type, body);
    }

    private static WireException truncated(long expected, long got) {
        return new WireException("truncated frame: expected " + expected + " bytes, got " + got);
    }
}
