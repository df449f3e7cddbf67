package ibex.wire;

import static ibex.wire.Samples.concat;
import static ibex.wire.Samples.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertThrowsExactly;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class FrameReaderTest {

    private static FrameReader reader(byte[] stream, int max) {
        return new FrameReader(new ByteArrayInputStream(stream), max);
    }

    /** Counts the bytes the reader takes from the stream. */
    private static final class Counting extends FilterInputStream {
        long taken;

        Counting(InputStream in) {
            super(in);
        }

        @Override
        public int read() throws IOException {
            int b = super.read();
            taken += b < 0 ? 0 : 1;
            return b;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            int n = super.read(b, off, len);
            taken += Math.max(n, 0);
            return n;
        }
    }

    @Test
    void read_severalFramesInOneStream_returnsEachThenEof() throws IOException {
        var all = Samples.everyType();
        var r = reader(concat(all.stream().map(Codec::encode).toArray(byte[][]::new)), Frames.DEFAULT_MAX);
        for (var m : all) {
            assertEquals(m, r.read());
        }
        assertThrowsExactly(EOFException.class, r::read);
    }

    @Test
    void read_emptyStream_isCleanEof() {
        assertThrowsExactly(EOFException.class, () -> reader(new byte[0], 100).read());
    }

    @Test
    void read_streamEndingAtEveryOffsetInsideAFrame_isTruncated() throws IOException {
        for (var m : Samples.everyType()) {
            byte[] frame = Codec.encode(m);
            byte[] previous = Codec.encode(new ScriptRequest(1));
            for (int cut = 1; cut < frame.length; cut++) {
                var r = reader(concat(previous, Arrays.copyOf(frame, cut)), Frames.DEFAULT_MAX);
                assertEquals(new ScriptRequest(1), r.read());
                var e = assertThrowsExactly(WireException.class, r::read, m + " cut at " + cut);
                long expected = cut < 4 ? 4 : frame.length;
                assertEquals("truncated frame: expected " + expected + " bytes, got " + cut, e.getMessage());
            }
            var whole = reader(frame, Frames.DEFAULT_MAX);
            assertEquals(m, whole.read());
            assertThrowsExactly(EOFException.class, whole::read);
        }
    }

    @Test
    void read_lengthOverLimit_failsBeforeAllocating() {
        for (var prefix : List.of("FFFFFFFF", "00000065", "80000000")) {
            var in = new Counting(new ByteArrayInputStream(concat(hex(prefix), new byte[200])));
            long before = Allocation.threadBytes();
            var e = assertThrows(WireException.class, () -> new FrameReader(in, 100).read());
            assertTrue(Allocation.threadBytes() - before < 1 << 20, "allocated less than 1 MiB");
            assertEquals("frame of " + Long.parseLong(prefix, 16) + " bytes exceeds the limit of 100 bytes",
                    e.getMessage());
            assertEquals(4, in.taken, "nothing read after the length prefix");
        }
    }

    @Test
    void read_lengthAtLimit_isAccepted() throws IOException {
        byte[] frame = Codec.encode(new ErrorReply(1, "x".repeat(100)));
        assertEquals(new ErrorReply(1, "x".repeat(100)), reader(frame, frame.length - 4).read());
        var e = assertThrows(WireException.class, () -> reader(frame, frame.length - 5).read());
        assertEquals("frame of 109 bytes exceeds the limit of 108 bytes", e.getMessage());
    }

    @Test
    void read_lengthZero_fails() {
        var e = assertThrows(WireException.class, () -> reader(hex("00000000 13"), 100).read());
        assertEquals("frame length 0 is invalid: a frame holds at least its type byte", e.getMessage());
    }

    @Test
    void read_hugeAnnouncedLengthWithFewBytes_isTruncatedWithoutAllocatingTheLength() {
        var stream = concat(hex("7FFFFFFF 10"), new byte[10]);
        long before = Allocation.threadBytes();
        var e = assertThrows(WireException.class, () -> reader(stream, Integer.MAX_VALUE).read());
        assertTrue(Allocation.threadBytes() - before < 1 << 20, "allocated less than 1 MiB");
        assertEquals("truncated frame: expected 2147483651 bytes, got 15", e.getMessage());
    }

    @Test
    void read_unknownType_fails() {
        var e = assertThrows(WireException.class, () -> reader(hex("00000001 42"), 100).read());
        assertEquals("unknown message type 0x42", e.getMessage());
    }

    @Test
    void read_largeFrameWithinDefaultLimit_roundTrips() throws IOException {
        var m = new Heartbeat(1, List.of(new ibex.wire.Heartbeat.Report(1, 1, ibex.core.HostStatus.SUCCESS, 0,
                "ö".repeat(7_000_000), "")));
        assertEquals(m, reader(Codec.encode(m), Frames.DEFAULT_MAX).read());
    }

    @Test
    void reader_withLimitBelowOne_isRejected() {
        var e = assertThrows(IllegalArgumentException.class, () -> reader(new byte[0], 0));
        assertEquals("maxFrameBytes must be at least 1, got 0", e.getMessage());
    }
}
