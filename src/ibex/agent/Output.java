package ibex.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A script's output as reported: at most {@code cap} bytes read from its file, the head and the
 * tail joined by one line saying how many bytes were left out; bytes that are not UTF-8 become
 * U+FFFD, so the JSON API never breaks. Head and tail are cut where no UTF-8 character is split.
 * Memory use is bounded by the cap, not by the file.
 */
final class Output {
    private Output() {
        throw new AssertionError();
    }

    /** The line between head and tail; it starts and ends a line of its own. */
    static String leftOut(long bytes) {
        return "\n... [ibex: " + bytes + " bytes left out] ...\n";
    }

    static String read(Path file, int cap) throws IOException {
        try (var ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size <= cap) {
                return decode(readAt(ch, 0, (int) size));
            }
            int half = cap / 2;
            var head = readAt(ch, 0, half);
            int headLen = completeLength(head, head.length);
            var tail = readAt(ch, size - half, half);
            int skip = continuationPrefix(tail);
            long left = size - headLen - (tail.length - skip);
            return decode(head, 0, headLen) + leftOut(left) + decode(tail, skip, tail.length - skip);
        } catch (NoSuchFileException e) {
            return "";
        }
    }

    /** Up to {@code n} bytes of {@code f} from {@code pos} (fewer at its end). */
    static byte[] read(Path f, long pos, int n) throws IOException {
        try (var ch = FileChannel.open(f, StandardOpenOption.READ)) {
            return readAt(ch, pos, (int) Math.max(0, Math.min(n, ch.size() - pos)));
        } catch (NoSuchFileException e) {
            return new byte[0];
        }
    }

    static long size(Path f) {
        try {
            return Files.size(f);
        } catch (IOException e) {
            return 0;
        }
    }

    private static byte[] readAt(FileChannel ch, long pos, int n) throws IOException {
        var buf = ByteBuffer.allocate(n);
        while (buf.hasRemaining()) {
            if (ch.read(buf, pos + buf.position()) < 0) {
                break;
            }
        }
        var out = new byte[buf.position()];
        buf.flip().get(out);
        return out;
    }

    /**
     * How many of the first {@code n} bytes to take so that a UTF-8 character whose first bytes end
     * the range, and which could still be completed by the bytes after it, is not split: n minus
     * such an unfinished sequence (at most 3 bytes).
     */
    static int completeLength(byte[] b, int n) {
        for (int back = 1; back <= 3 && back <= n; back++) {
            int lead = b[n - back] & 0xFF;
            if (lead >= 0x80 && lead < 0xC0) {
                continue;   // a continuation byte: look further back for its lead
            }
            int need = lead < 0xC2 || lead > 0xF4 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
            return need > back ? n - back : n;
        }
        return n;
    }

    /** Continuation bytes at the start of a range cut from the middle of a file (at most 3). */
    private static int continuationPrefix(byte[] b) {
        int i = 0;
        while (i < 3 && i < b.length && (b[i] & 0xC0) == 0x80) {
            i++;
        }
        return i;
    }

    static String decode(byte[] bytes) {
        return decode(bytes, 0, bytes.length);
    }

    static String decode(byte[] bytes, int from, int n) {
        var d = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        try {
            return d.decode(ByteBuffer.wrap(bytes, from, n)).toString();
        } catch (CharacterCodingException e) {
            throw new IllegalStateException("a replacing decoder cannot fail", e);
        }
    }
}
