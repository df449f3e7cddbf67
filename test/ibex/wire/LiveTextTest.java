package ibex.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.Random;
import org.junit.jupiter.api.Test;

class LiveTextTest {
    @Test
    void deltasInOrder_areAppendedWhole() {
        var t = new LiveText();
        assertEquals("abc", t.accept(0, "abc"));
        assertEquals("dé", t.accept(3, "dé"));
        assertEquals(6, t.end());
    }

    @Test
    void repeatedDelta_addsNothing() {
        var t = new LiveText();
        t.accept(0, "hello ");
        t.accept(6, "world");
        assertEquals("", t.accept(6, "world"));
        assertEquals("", t.accept(0, "hello "));
        assertEquals(11, t.end());
    }

    @Test
    void overlappingDelta_addsOnlyItsNewPart() {
        var t = new LiveText();
        t.accept(0, "日本");
        // "本語" starts at byte 3: "本" (3 bytes) is known, "語" is new.
        assertEquals("語", t.accept(3, "本語"));
        assertEquals(9, t.end());
    }

    @Test
    void gap_isMarkedWithTheMissingByteCount() {
        var t = new LiveText();
        t.accept(0, "abc");
        assertEquals("\n... [ibex: 7 bytes of live output were not received] ...\nxyz", t.accept(10, "xyz"));
        assertEquals(13, t.end());
    }

    @Test
    void firstDeltaPastZero_isAGapFromTheStart() {
        assertEquals(LiveText.gapLine(5) + "x", new LiveText().accept(5, "x"));
    }

    @Test
    void negativeOffset_isRefused() {
        assertThrows(IllegalArgumentException.class, () -> new LiveText().accept(-1, "x"));
    }

    @Test
    void utf8Length_matchesTheEncoder() {
        var r = new Random(7);
        for (int i = 0; i < 500; i++) {
            var s = Samples.string(r);
            assertEquals(s.getBytes(StandardCharsets.UTF_8).length, LiveText.utf8Length(s), s);
        }
        assertEquals(1, LiveText.utf8Length("\uD800"), "a lone surrogate is sent as '?'");
    }

    @Test
    void anySplitIntoResentAndOverlappingDeltas_rebuildsTheText() {
        var r = new Random(11);
        for (int round = 0; round < 200; round++) {
            var text = Samples.string(r) + Samples.UNICODE + Samples.string(r);
            var bytes = text.getBytes(StandardCharsets.UTF_8);
            var t = new LiveText();
            var out = new StringBuilder();
            int at = 0;
            while (at < text.length()) {
                // Resend from an earlier character boundary sometimes, then go further.
                int from = r.nextInt(4) == 0 ? r.nextInt(at + 1) : at;
                while (from > 0 && Character.isLowSurrogate(text.charAt(from))) {
                    from--;
                }
                int to = Math.min(text.length(), Math.max(at, from) + 1 + r.nextInt(8));
                if (to < text.length() && Character.isLowSurrogate(text.charAt(to))) {
                    to++;
                }
                out.append(t.accept(LiveText.utf8Length(text.substring(0, from)), text.substring(from, to)));
                at = Math.max(at, to);
            }
            assertEquals(text, out.toString());
            assertEquals(bytes.length, t.end());
        }
    }
}
