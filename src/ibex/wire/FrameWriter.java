package ibex.wire;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.List;
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

    /**
     * Writes several frames with one write and one flush: a push of a new task's script and the
     * assignment list is one system call per agent, not two (BENCHMARKS.md P3: 10,000 agents).
     */
    public void write(List<Message> messages) throws IOException {
        var frames = new ByteArrayOutputStream();
        for (var m : messages) {
            frames.writeBytes(Codec.encode(m));
        }
        synchronized (this) {
            frames.writeTo(out);
            out.flush();
        }
    }
}
