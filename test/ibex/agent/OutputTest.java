package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputTest {
    @TempDir
    Path dir;

    private String read(byte[] content, int cap) throws IOException {
        var f = dir.resolve("out");
        Files.write(f, content);
        return Output.read(f, cap);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void upToTheCap_isReadWhole() throws IOException {
        assertEquals("", read(new byte[0], 10));
        assertEquals("0123456789", read(utf8("0123456789"), 10));
        assertEquals("", Output.read(dir.resolve("missing"), 10));
    }

    @Test
    void overTheCap_keepsHeadAndTail_joinedByOneLineCountingWhatIsLeftOut() throws IOException {
        assertEquals("01234\n... [ibex: 10 bytes left out] ...\nfghij", read(utf8("0123456789abcdefghij"), 10));
    }

    @Test
    void invalidUtf8_isReplaced() throws IOException {
        assertEquals("a\uFFFDb\uFFFD\uFFFDc", read(new byte[] {'a', (byte) 0xFF, 'b', (byte) 0xC0, (byte) 0x80, 'c'}, 100));
    }

    @Test
    void cuts_neverSplitACharacter_andTheCountSaysSo() throws IOException {
        // 17 bytes, cap 6: 3 bytes of head would end inside the first é, 3 of tail start inside the second.
        var s = read(utf8("xxé" + "y".repeat(9) + "ébc"), 6);
        assertEquals("xx\n... [ibex: 13 bytes left out] ...\nbc", s);
        var euro = read(utf8("€€€€"), 8);   // 12 bytes: 4 of head would split the second €
        assertEquals("€\n... [ibex: 6 bytes left out] ...\n€", euro);
    }

    @Test
    void completeLength_holdsBackOnlyAnUnfinishedCharacter() {
        assertEquals(3, Output.completeLength(utf8("abc"), 3));
        assertEquals(1, Output.completeLength(new byte[] {'a', (byte) 0xE2, (byte) 0x82}, 3), "2 of 3 bytes of €");
        assertEquals(4, Output.completeLength(utf8("a€"), 4));
        assertEquals(1, Output.completeLength(new byte[] {'a', (byte) 0xF0, (byte) 0x9F, (byte) 0x98}, 4), "3 of 4 of 😀");
        assertEquals(2, Output.completeLength(new byte[] {'a', (byte) 0xFF}, 2), "not a lead byte: nothing to wait for");
        assertEquals(4, Output.completeLength(new byte[] {(byte) 0x80, (byte) 0x80, (byte) 0x80, (byte) 0x80}, 4));
    }

    @Test
    void memory_isBoundedByTheCap_notTheFile() throws IOException {
        var f = dir.resolve("big");
        try (var out = Files.newOutputStream(f)) {
            var mb = new byte[1 << 20];
            java.util.Arrays.fill(mb, (byte) 'q');
            for (int i = 0; i < 64; i++) {
                out.write(mb);
            }
        }
        long before = threadBytes();
        var s = Output.read(f, 64 * 1024);
        long allocated = threadBytes() - before;
        assertTrue(s.length() < 70_000, "length " + s.length());
        assertTrue(allocated < 4 << 20, "allocated " + allocated + " bytes for a 64 MiB file");
    }

    private static long threadBytes() {
        return ((com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean())
                .getCurrentThreadAllocatedBytes();
    }
}
