package ibex.wire;

/**
 * The receiving end of one live-output stream: one running run's stdout, or its stderr, on one
 * connection. The protocol's rule in one place: a delta names where it starts in the stream's text,
 * counted in UTF-8 bytes, so
 * <ul>
 * <li>a delta that repeats text already accepted changes nothing,</li>
 * <li>a delta that overlaps accepted text adds only its new part,</li>
 * <li>a delta that starts past the end (text was lost) is accepted after a line saying how many
 *     bytes are missing.</li>
 * </ul>
 * The stream starts at offset 0 on every connection: a server that sees a run's first delta on a
 * connection replaces whatever it stored for the run before. Not thread-safe.
 */
public final class LiveText {
    private long end;

    /** Bytes of text accepted so far: the offset the next delta should have. */
    public long end() {
        return end;
    }

    /** The text to append for a delta at {@code offset}; "" when it brings nothing new. */
    public String accept(long offset, String text) {
        if (offset < 0) {
            throw new IllegalArgumentException("live output offset must not be negative, got " + offset);
        }
        long length = utf8Length(text);
        if (offset + length <= end) {
            return "";
        }
        if (offset < end) {
            String rest = dropUtf8(text, end - offset);
            end += utf8Length(rest);
            return rest;
        }
        String gap = offset > end ? gapLine(offset - end) : "";
        end = offset + length;
        return gap + text;
    }

    /** The line that stands in for live output that never arrived. */
    public static String gapLine(long missing) {
        return "\n... [ibex: " + missing + " bytes of live output were not received] ...\n";
    }

    /** The length of {@code s} in UTF-8 (an unpaired surrogate counts 1, as the encoder sends '?'). */
    public static long utf8Length(CharSequence s) {
        long n = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                n += 1;
            } else if (c < 0x800) {
                n += 2;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                n += 4;
                i++;
            } else if (Character.isSurrogate(c)) {
                n += 1;
            } else {
                n += 3;
            }
        }
        return n;
    }

    /** {@code s} without its first {@code bytes} UTF-8 bytes; a character cut in two is dropped whole. */
    static String dropUtf8(String s, long bytes) {
        long n = 0;
        int i = 0;
        while (i < s.length() && n < bytes) {
            int cp = s.codePointAt(i);
            n += cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? (Character.isSurrogate((char) cp) ? 1 : 3) : 4;
            i += Character.charCount(cp);
        }
        return s.substring(i);
    }
}
