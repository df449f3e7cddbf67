package ibex.server.rpc;

import ibex.core.Log;
import java.io.IOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.function.Consumer;

/**
 * Watches the welcomed plain connections between their frames, on one platform thread with one
 * selector. A connection with bytes to read is handed to a new virtual thread that reads and
 * handles what arrived, then asks to be watched again; until then it is not watched, so its
 * frames are handled one at a time and in order.
 *
 * <p>Why not a virtual thread blocked in a read per connection: a parked virtual thread keeps its
 * stack in a heap object, and with the serial collector every park of a thread whose stack object
 * had been promoted allocated a new one (about 3.5 KB). At 10,000 agents beating once a second
 * that was 35 MB/s of stacks living a second each, which the young generation promoted and the
 * old one collected: most of the server's memory (BENCHMARKS.md P1). Idle here, a connection is
 * a key and a session; a heartbeat answered from memory never parks at all.
 */
final class ReadLoop implements AutoCloseable {
    private final Selector selector;
    private final Consumer<Runnable> threads;
    /** Registrations and re-arms, applied by the loop's thread (a selector's keys are its own). */
    private final Queue<Runnable> changes = new ConcurrentLinkedQueue<>();
    private final Thread thread;
    private volatile boolean running = true;

    /** @param threads starts a task on a new virtual thread */
    ReadLoop(Consumer<Runnable> threads) throws IOException {
        this.selector = Selector.open();
        this.threads = threads;
        this.thread = Thread.ofPlatform().name("ibex-agent-read").daemon().start(this::loop);
    }

    /** Starts watching a non-blocking channel; {@code ready} runs on a virtual thread when it has bytes. */
    void watch(SocketChannel channel, Readable session) {
        change(() -> {
            try {
                channel.register(selector, SelectionKey.OP_READ, session);
            } catch (ClosedChannelException e) {
                session.ended();
            }
        });
    }

    /** Watches again a connection whose bytes were all read. */
    void rearm(SocketChannel channel) {
        change(() -> {
            var key = channel.keyFor(selector);
            try {
                if (key != null) {
                    key.interestOps(SelectionKey.OP_READ);
                }
            } catch (CancelledKeyException e) {
                // Closed meanwhile: nothing to watch.
            }
        });
    }

    private void change(Runnable r) {
        changes.add(r);
        selector.wakeup();
    }

    private void loop() {
        while (running) {
            try {
                selector.select();
                for (Runnable r; (r = changes.poll()) != null; ) {
                    r.run();
                }
                for (var key : selector.selectedKeys()) {
                    try {
                        key.interestOps(0);
                    } catch (CancelledKeyException e) {
                        continue;   // closed meanwhile: its session has ended
                    }
                    var session = (Readable) key.attachment();
                    session.reading();
                    threads.accept(session::readable);
                }
                selector.selectedKeys().clear();
            } catch (IOException | RuntimeException e) {
                if (running) {
                    Log.error("rpc", "agent read loop", e);
                }
            }
        }
    }

    /** What the loop calls on a watched connection. */
    interface Readable {
        /** Called on the loop's thread when bytes are there, before {@link #readable} is started. */
        void reading();

        /** Reads and handles what arrived; runs on its own virtual thread. */
        void readable();

        /** The channel closed before it could be watched. */
        void ended();
    }

    @Override
    public void close() {
        running = false;
        try {
            selector.close();
        } catch (IOException e) {
            Log.warn("rpc", "closing the agent read loop: " + e.getMessage());
        }
        thread.interrupt();
    }
}
