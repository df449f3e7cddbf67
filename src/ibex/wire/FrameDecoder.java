package ibex.wire;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * Frames from bytes as they arrive on a non-blocking connection, the same frames and checks as
 * {@link FrameReader}: the length prefix is checked against the limit before anything is
 * allocated, and the body buffer grows as bytes arrive, so a peer that announces 16 MiB and sends
 * 10 bytes costs 10 bytes. Holds the partial frame between calls; one decoder per connection.
 */
public final class FrameDecoder {
    /** The first body buffer; a heartbeat fits, larger frames double it up to their length. */
    private static final int FIRST_BODY = 256;
    private final int maxFrameBytes;
    /** The 4-byte length and the type byte. */
    private final byte[] head = new byte[5];
    private int headGot;
    /** The length field of the frame begun or just returned; 0 until a frame's prefix is complete. */
    private int length;
    private int bodyLength;
    private byte[] body;
    private int bodyGot;

    /** @param maxFrameBytes the largest length field accepted (type byte + body), at least 1 */
    public FrameDecoder(int maxFrameBytes) {
        if (maxFrameBytes < 1) {
            throw new IllegalArgumentException("maxFrameBytes must be at least 1, got " + maxFrameBytes);
        }
        this.maxFrameBytes = maxFrameBytes;
    }

    /**
     * Takes bytes from {@code in} up to the end of the next frame and returns its message, or null
     * when {@code in} ran out first (the partial frame is kept). {@link WireException} for an
     * oversize or malformed frame; the connection cannot continue after one.
     */
    public Message next(ByteBuffer in) throws WireException {
        if (headGot == 0) {
            length = 0;
        }
        while (headGot < head.length) {
            if (!in.hasRemaining()) {
                return null;
            }
            head[headGot++] = in.get();
            if (headGot == 4) {
                long announced = (head[0] & 0xFFL) << 24 | (head[1] & 0xFF) << 16 | (head[2] & 0xFF) << 8 | (head[3] & 0xFF);
                if (announced == 0) {
                    throw new WireException("frame length 0 is invalid: a frame holds at least its type byte");
                }
                if (announced > maxFrameBytes) {
                    throw new WireException("frame of " + announced + " bytes exceeds the limit of " + maxFrameBytes + " bytes");
                }
                length = (int) announced;
                bodyLength = length - 1;
                body = new byte[Math.min(bodyLength, FIRST_BODY)];
                bodyGot = 0;
            }
        }
        while (bodyGot < bodyLength) {
            if (!in.hasRemaining()) {
                return null;
            }
            if (bodyGot == body.length) {
                body = Arrays.copyOf(body, (int) Math.min(bodyLength, 2L * body.length));
            }
            int n = Math.min(in.remaining(), body.length - bodyGot);
            in.get(body, bodyGot, n);
            bodyGot += n;
        }
        byte[] done = body;
        headGot = 0;
        body = null;
        return Codec.decode(head[4] & 0xFF, done);
    }

    /** Bytes still missing from the frame begun; 0 between frames. */
    public int missing() {
        return headGot == 0 ? 0 : headGot < head.length ? head.length - headGot : bodyLength - bodyGot;
    }

    /**
     * The length field of the frame in progress, or of the one the last {@link #next} returned; 0
     * while no frame's length is known. A reader can reserve memory for a large frame by it.
     */
    public int length() {
        return length;
    }

    /** True while part of a frame has arrived and the rest has not. */
    public boolean partial() {
        return headGot > 0;
    }
}
