package ibex.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrowsExactly;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class FrameWriterTest {

    @Test
    void write_oneMessage_writesItsFrameAndFlushes() throws IOException {
        var flushes = new int[1];
        var bytes = new ByteArrayOutputStream();
        var out = new OutputStream() {
            @Override
            public void write(int b) {
                bytes.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                // one byte at a time, so an interleaving writer would show up in the concurrent test
                for (int i = 0; i < len; i++) {
                    bytes.write(b[off + i]);
                    Thread.yield();
                }
            }

            @Override
            public void flush() {
                flushes[0]++;
            }
        };
        new FrameWriter(out).write(new ScriptRequest(5));
        assertArrayEquals(Codec.encode(new ScriptRequest(5)), bytes.toByteArray());
        assertEquals(1, flushes[0]);
    }

    @Test
    void write_severalMessages_isTheirFramesInOrder_inOneWriteAndOneFlush() throws IOException {
        var calls = new int[2];
        var bytes = new ByteArrayOutputStream();
        var out = new OutputStream() {
            @Override
            public void write(int b) {
                calls[0]++;
                bytes.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                calls[0]++;
                bytes.write(b, off, len);
            }

            @Override
            public void flush() {
                calls[1]++;
            }
        };
        var all = Samples.everyType();
        new FrameWriter(out).write(all);
        var expected = new ByteArrayOutputStream();
        all.forEach(m -> expected.writeBytes(Codec.encode(m)));
        assertArrayEquals(expected.toByteArray(), bytes.toByteArray());
        assertEquals(1, calls[0], "one write");
        assertEquals(1, calls[1], "one flush");
    }

    @Test
    void write_fromSeveralThreads_neverInterleavesFrames() throws Exception {
        var bytes = new ByteArrayOutputStream();
        var out = new OutputStream() {
            @Override
            public void write(int b) {
                synchronized (bytes) {
                    bytes.write(b);
                }
            }

            @Override
            public void write(byte[] b, int off, int len) {
                for (int i = 0; i < len; i++) {
                    write(b[off + i]);
                    if (i % 7 == 0) {
                        Thread.yield();
                    }
                }
            }
        };
        var writer = new FrameWriter(out);
        int threads = 4;
        int perThread = 200;
        var start = new CountDownLatch(1);
        List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            long id = t;
            started.add(Thread.ofPlatform().start(() -> {
                try {
                    start.await();
                    for (int i = 0; i < perThread; i++) {
                        writer.write(new TaskScript(id, "script " + i, "", "", "", i));
                    }
                } catch (InterruptedException | IOException e) {
                    throw new IllegalStateException(e);
                }
            }));
        }
        start.countDown();
        for (var t : started) {
            t.join();
        }
        var reader = new FrameReader(new ByteArrayInputStream(bytes.toByteArray()), Frames.DEFAULT_MAX);
        var next = new HashMap<Long, Integer>();
        for (int n = 0; n < threads * perThread; n++) {
            var m = (TaskScript) reader.read();
            int expected = next.merge(m.taskId(), 1, Integer::sum) - 1;
            assertEquals(expected, m.timeoutSeconds(), "each thread's frames arrive whole and in order");
        }
        assertThrowsExactly(EOFException.class, reader::read);
    }
}
