package ibex.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A script's output as reported: at most {@code cap} bytes read from its file, the head and the
 * tail joined by one line saying how many bytes were left out; bytes that are not UTF-8 become
 * U+FFFD, so the JSON API never breaks. Memory use is bounded by the cap, not the file.
 */
final class Output {
    private Output() {
        throw new AssertionError();
    }

    static String read(Path file, int cap) throws IOException {
        if (!Files.exists(file)) {
            return "";
        }
        try (var ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size <= cap) {
                return decode(readAt(ch, 0, (int) size));
            }
            int half = cap / 2;
            var head = decode(readAt(ch, 0, half));
            var tail = decode(readAt(ch, size - half, half));
            return head + "\n... [ibex: " + (size - 2L * half) + " bytes left out] ...\n" + tail;
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

    private static String decode(byte[] bytes) {
        CharsetDecoder d = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPLACE)
                .onUnmappableCharacter(CodingErrorAction.REPLACE);
        try {
            return d.decode(ByteBuffer.wrap(bytes)).toString();
        } catch (java.nio.charset.CharacterCodingException e) {
            throw new IllegalStateException("a replacing decoder cannot fail", e);
        }
    }
}
