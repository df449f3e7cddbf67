package ibex.wire;

import static ibex.wire.Samples.concat;
import static ibex.wire.Samples.hex;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The non-blocking decoder gives what FrameReader gives, however the bytes are split. */
class FrameDecoderTest {

    /** Feeds {@code stream} in pieces of the given sizes (cycled) and collects every message. */
    private static List<Message> decode(byte[] stream, int max, int... pieces) throws WireException {
        var d = new FrameDecoder(max);
        var out = new ArrayList<Message>();
        int at = 0;
        for (int i = 0; at < stream.length; i++) {
            int n = Math.min(pieces[i % pieces.length], stream.length - at);
            var buf = ByteBuffer.wrap(stream, at, n);
            for (Message m; (m = d.next(buf)) != null; ) {
                out.add(m);
            }
            assertFalse(buf.hasRemaining(), "every byte given is taken");
            at += n;
        }
        assertFalse(d.partial(), "the stream ended on a frame boundary");
        return out;
    }

    @Test
    void everyType_splitAnyWay_decodesToTheSameMessages() throws WireException {
        var all = Samples.everyType();
        byte[] stream = concat(all.stream().map(Codec::encode).toArray(byte[][]::new));
        assertEquals(all, decode(stream, Frames.DEFAULT_MAX, stream.length));
        assertEquals(all, decode(stream, Frames.DEFAULT_MAX, 1));
        assertEquals(all, decode(stream, Frames.DEFAULT_MAX, 3, 7, 1, 4096));
        var r = new Random(7);
        for (int i = 0; i < 50; i++) {
            var m = Samples.random(r);
            byte[] frame = Codec.encode(m);
            assertEquals(List.of(m, m), decode(concat(frame, frame), Frames.DEFAULT_MAX, 1 + r.nextInt(frame.length)));
        }
    }

    @Test
    void aPartialFrame_waitsForTheRest() throws WireException {
        byte[] frame = Codec.encode(new ScriptRequest(9));
        var d = new FrameDecoder(100);
        assertEquals(0, d.missing());
        assertNull(d.next(ByteBuffer.wrap(frame, 0, 3)));
        assertEquals(0, d.length());
        assertTrue(d.partial());
        assertEquals(2, d.missing(), "the length's last byte and the type");
        assertNull(d.next(ByteBuffer.wrap(frame, 3, 3)));
        assertEquals(frame.length - 6, d.missing());
        assertEquals(frame.length - 4, d.length(), "the length field, known once the prefix is in");
        assertEquals(new ScriptRequest(9), d.next(ByteBuffer.wrap(frame, 6, frame.length - 6)));
        assertEquals(0, d.missing());
        assertEquals(frame.length - 4, d.length(), "still the returned frame's length");
        assertNull(d.next(ByteBuffer.allocate(0)));
        assertEquals(0, d.length(), "no frame begun");
        assertFalse(d.partial());
    }

    @Test
    void lengthOverLimit_orZero_orUnknownType_failLikeTheReader() {
        var e = assertThrows(WireException.class, () -> new FrameDecoder(100).next(ByteBuffer.wrap(hex("FFFFFFFF"))));
        assertEquals("frame of 4294967295 bytes exceeds the limit of 100 bytes", e.getMessage());
        e = assertThrows(WireException.class, () -> new FrameDecoder(100).next(ByteBuffer.wrap(hex("00000000 13"))));
        assertEquals("frame length 0 is invalid: a frame holds at least its type byte", e.getMessage());
        e = assertThrows(WireException.class, () -> new FrameDecoder(100).next(ByteBuffer.wrap(hex("00000001 42"))));
        assertEquals("unknown message type 0x42", e.getMessage());
    }

    @Test
    void hugeAnnouncedLength_withFewBytes_allocatesWhatArrived_notTheLength() throws WireException {
        var d = new FrameDecoder(Integer.MAX_VALUE);
        long before = Allocation.threadBytes();
        assertNull(d.next(ByteBuffer.wrap(concat(hex("7FFFFFFF 10"), new byte[10]))));
        assertTrue(Allocation.threadBytes() - before < 1 << 20, "allocated less than 1 MiB");
        assertTrue(d.partial());
    }

    @Test
    void largeFrameWithinTheDefaultLimit_roundTrips() throws WireException {
        var m = new Heartbeat(1, List.of(new Heartbeat.Report(1, 1, ibex.core.HostStatus.SUCCESS, 0, "ö".repeat(3_000_000), "")));
        assertEquals(List.of(m), decode(Codec.encode(m), Frames.DEFAULT_MAX, 65536));
    }
}
