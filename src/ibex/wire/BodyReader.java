package ibex.wire;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;

/**
 * Reads the fields of one frame body. Every length and count is checked against the bytes left
 * before anything is allocated, so decoding a body never allocates more than a small multiple of the
 * body's own size. Field names appear in the errors.
 */
final class BodyReader {
    private final int type;
    private final byte[] body;
    private int pos;

    BodyReader(int type, byte[] body) {
        this.type = type;
        this.body = body;
    }

    int u8(String field) throws WireException {
        need(1, field);
        return body[pos++] & 0xFF;
    }

    int i32(String field) throws WireException {
        need(4, field);
        int v = (body[pos] & 0xFF) << 24 | (body[pos + 1] & 0xFF) << 16 | (body[pos + 2] & 0xFF) << 8
                | (body[pos + 3] & 0xFF);
        pos += 4;
        return v;
    }

    long i64(String field) throws WireException {
        need(8, field);
        long v = 0;
        for (int i = 0; i < 8; i++) {
            v = v << 8 | (body[pos++] & 0xFF);
        }
        return v;
    }

    byte[] bytes(String field) throws WireException {
        int n = length("bytes", field);
        var b = new byte[n];
        System.arraycopy(body, pos, b, 0, n);
        pos += n;
        return b;
    }

    /** Strict UTF-8: malformed input (overlong forms, encoded surrogates, bad bytes) is an error. */
    String string(String field) throws WireException {
        int start = pos + 4;
        int n = length("string", field);
        try {
            String s = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(body, start, n)).toString();
            pos += n;
            return s;
        } catch (CharacterCodingException e) {
            throw new WireException("malformed UTF-8 in string field '" + field + "' of frame type "
                    + Codec.typeName(type) + " at body offset " + start);
        }
    }

    /**
     * A list count, checked against the bytes left assuming each item takes at least
     * {@code minItemBytes}, so a 4-byte count cannot make the caller reserve billions of slots.
     */
    int count(String field, int minItemBytes) throws WireException {
        long n = Integer.toUnsignedLong(i32(field));
        if (n * minItemBytes > left()) {
            throw new WireException("list count " + n + " of field '" + field + "' needs at least "
                    + n * minItemBytes + " bytes but " + left() + " are left in frame type " + Codec.typeName(type));
        }
        return (int) n;
    }

    /** Trailing bytes after a message's last field are an error: the layouts are exact. */
    void end() throws WireException {
        if (left() != 0) {
            throw new WireException("frame type " + Codec.typeName(type) + " has " + left()
                    + " trailing bytes after its last field");
        }
    }

    WireException invalid(String what) {
        return new WireException(what + " in frame type " + Codec.typeName(type));
    }

    private int length(String kind, String field) throws WireException {
        long n = Integer.toUnsignedLong(i32(field));
        if (n > left()) {
            throw new WireException(kind + " length " + n + " exceeds the " + left() + " bytes left in frame type "
                    + Codec.typeName(type) + " (field " + field + ")");
        }
        return (int) n;
    }

    private int left() {
        return body.length - pos;
    }

    private void need(int n, String field) throws WireException {
        if (left() < n) {
            throw new WireException("frame type " + Codec.typeName(type) + " ends inside field '" + field
                    + "': needs " + n + " bytes, " + left() + " left");
        }
    }
}
