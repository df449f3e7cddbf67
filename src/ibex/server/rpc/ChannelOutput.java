package ibex.server.rpc;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;

/**
 * Writes to a non-blocking connection (one watched by the {@link ReadLoop}). A frame normally goes
 * out in one call; when the agent's receive window is full (a large script to a slow host), the
 * writer waits a little and tries again, and gives up when the agent takes nothing for
 * {@link #STALL_MS}, so a stuck agent cannot hold a writer forever.
 */
final class ChannelOutput extends OutputStream {
    static final long STALL_MS = 30_000;
    private final SocketChannel channel;

    ChannelOutput(SocketChannel channel) {
        this.channel = channel;
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        var buf = ByteBuffer.wrap(b, off, len);
        long pause = 1;
        long stalledSince = 0;
        while (buf.hasRemaining()) {
            if (channel.write(buf) > 0) {
                pause = 1;
                stalledSince = 0;
                continue;
            }
            long now = System.nanoTime();
            if (stalledSince == 0) {
                stalledSince = now;
            } else if (now - stalledSince > STALL_MS * 1_000_000) {
                throw new IOException("the agent has taken nothing for " + STALL_MS / 1000 + " s");
            }
            try {
                Thread.sleep(pause);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while writing to the agent");
            }
            pause = Math.min(50, pause * 2);
        }
    }
}
