package ibex.wire;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Objects;

/**
 * Writes whole frames to one stream. Encoding happens outside the lock; the write and flush of one
 * frame happen under it, so frames from several threads (heartbeat replies, pushes) never interleave.
 */
public final class FrameWriter {
    private final OutputStream out;

    public FrameWriter(OutputStream out) {
        this.out = Objects.requireNonNull(out, "out");
    }

    /** Writes and flushes one frame. */
    public void write(Message m) throws IOException {
        byte[] frame = Codec.encode(m);
        synchronized (this) {
            out.write(frame);
            out.flush();
        }
    }
}
