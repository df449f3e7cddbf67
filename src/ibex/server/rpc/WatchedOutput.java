package ibex.server.rpc;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * A TLS connection's output, which blocks when the agent stops reading (an SSLSocket has no
 * channel, and a blocking write has no timeout): it tells since when its current write has been
 * blocked, so the hub's sweep can drop an agent that has taken nothing for
 * {@link ChannelOutput#STALL_MS}, as {@link ChannelOutput} does on a plain connection.
 */
final class WatchedOutput extends FilterOutputStream {
    /** System.nanoTime when the write in progress began; 0 while none is. */
    private volatile long since;

    WatchedOutput(OutputStream out) {
        super(out);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        since = System.nanoTime();
        try {
            out.write(b, off, len);
        } finally {
            since = 0;
        }
    }

    @Override
    public void flush() throws IOException {
        since = System.nanoTime();
        try {
            out.flush();
        } finally {
            since = 0;
        }
    }

    /** Whether the write in progress has been blocked for longer than {@link ChannelOutput#STALL_MS} at {@code now}. */
    boolean stalled(long now) {
        long s = since;
        return s != 0 && now - s > ChannelOutput.STALL_MS * 1_000_000;
    }
}
