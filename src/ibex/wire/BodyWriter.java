package ibex.wire;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Builds one frame: reserves the 5 header bytes, appends big-endian fields, then fills in the length
 * and type. Not thread-safe; one per {@link Codec#encode} call.
 */
final class BodyWriter {
    private static final int HEADER = 5;

    private byte[] buf = new byte[256];
    private int size = HEADER;

    BodyWriter u8(int v) {
        ensure(1);
        buf[size++] = (byte) v;
        return this;
    }

    BodyWriter i32(int v) {
        ensure(4);
        put32(size, v);
        size += 4;
        return this;
    }

    BodyWriter i64(long v) {
        ensure(8);
        for (int shift = 56; shift >= 0; shift -= 8) {
            buf[size++] = (byte) (v >>> shift);
        }
        return this;
    }

    BodyWriter bytes(byte[] b) {
        i32(b.length);
        ensure(b.length);
        System.arraycopy(b, 0, buf, size, b.length);
        size += b.length;
        return this;
    }

    /** UTF-8; an unpaired surrogate becomes '?', as {@link String#getBytes} does (never fails). */
    BodyWriter string(String s) {
        return bytes(s.getBytes(StandardCharsets.UTF_8));
    }

    BodyWriter count(int n) {
        return i32(n);
    }

    /** The finished frame: u32 length (type + body), u8 type, body. */
    byte[] frame(int type) {
        put32(0, size - 4);
        buf[4] = (byte) type;
        return Arrays.copyOf(buf, size);
    }

    private void put32(int at, int v) {
        buf[at] = (byte) (v >>> 24);
        buf[at + 1] = (byte) (v >>> 16);
        buf[at + 2] = (byte) (v >>> 8);
        buf[at + 3] = (byte) v;
    }

    private void ensure(int more) {
        if (more > Integer.MAX_VALUE - 16 - size) {
            throw new IllegalArgumentException("message does not fit in one frame: " + size + " + " + more
                    + " bytes exceeds the u32 length a Java array can hold");
        }
        if (size + more > buf.length) {
            int grown = (int) Math.min(Integer.MAX_VALUE - 16L, Math.max((long) buf.length * 2, size + more));
            buf = Arrays.copyOf(buf, grown);
        }
    }
}
