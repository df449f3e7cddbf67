package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ibex.wire.Heartbeat;
import ibex.wire.LiveText;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's side of live output: pieces from the files, offsets, the cap, whole characters. */
class LiveTest {
    @TempDir
    Path dir;
    private MetaDir meta;
    private final Runner.Key run = new Runner.Key(1, 5);

    @BeforeEach
    void setUp() throws IOException {
        meta = new MetaDir(dir.resolve("meta"));
        Files.createDirectories(meta.taskDir(1));
    }

    private void append(Path f, byte[] b) throws IOException {
        Files.write(f, b, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private void out(String s) throws IOException {
        append(meta.stdout(1, 5), s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void pieces_followTheFile_withOffsetsInUtf8Bytes() throws IOException {
        var live = new Live(1024);
        assertEquals(List.of(), live.next(List.of(run), meta, 1 << 20), "no output, no report");
        out("héllo ");
        append(meta.stderr(1, 5), "warn".getBytes(StandardCharsets.UTF_8));
        assertEquals(List.of(Heartbeat.Report.running(1, 5, 0, "héllo ", 0, "warn")), live.next(List.of(run), meta, 1 << 20));
        out("wörld");
        assertEquals(List.of(Heartbeat.Report.running(1, 5, 7, "wörld", 4, "")), live.next(List.of(run), meta, 1 << 20));
        assertEquals(List.of(), live.next(List.of(run), meta, 1 << 20));
    }

    @Test
    void anUnfinishedCharacter_waitsForItsLastBytes() throws IOException {
        var live = new Live(1024);
        append(meta.stdout(1, 5), new byte[] {'a', (byte) 0xE2, (byte) 0x82});
        assertEquals("a", live.next(List.of(run), meta, 1 << 20).getFirst().stdout());
        append(meta.stdout(1, 5), new byte[] {(byte) 0xAC, 'b'});
        var r = live.next(List.of(run), meta, 1 << 20).getFirst();
        assertEquals("€b", r.stdout());
        assertEquals(1, r.stdoutOffset());
    }

    @Test
    void atTheCap_liveOutputStops_withOneLine() throws IOException {
        var live = new Live(4096);
        out("z".repeat(5000));
        var first = live.next(List.of(run), meta, 1 << 20).getFirst();
        assertEquals("z".repeat(4096), first.stdout());
        var second = live.next(List.of(run), meta, 1 << 20).getFirst();
        assertEquals(4096, second.stdoutOffset());
        assertEquals(Live.capLine(4096), second.stdout());
        out("more");
        assertEquals(List.of(), live.next(List.of(run), meta, 1 << 20), "nothing after the cap line");
    }

    @Test
    void aPiece_isAtMost64KiB_andAHeartbeatKeepsToItsBudget() throws IOException {
        var live = new Live(1 << 20);
        out("q".repeat(200_000));
        var first = live.next(List.of(run), meta, 1 << 20).getFirst();
        assertEquals(Live.MAX_PIECE, first.stdout().length());
        var other = new Runner.Key(2, 5);
        Files.createDirectories(meta.taskDir(2));
        append(meta.stdout(2, 5), "r".repeat(100_000).getBytes(StandardCharsets.UTF_8));
        var one = live.next(List.of(run, other), meta, 1);
        assertEquals(1, one.size(), "a budget of 1 byte still lets one piece through, then stops");
        var next = live.next(List.of(run, other), meta, 1);
        assertEquals(1, next.size());
        assertTrue(one.getFirst().taskId() != next.getFirst().taskId(), "the runs take turns");
    }

    @Test
    void aNewConnection_startsEveryStreamAgainAtZero() throws IOException {
        out("abc");
        new Live(1024).next(List.of(run), meta, 1 << 20);
        var again = new Live(1024).next(List.of(run), meta, 1 << 20).getFirst();
        assertEquals(0, again.stdoutOffset());
        assertEquals("abc", again.stdout());
        var server = new LiveText();
        assertEquals("abc", server.accept(again.stdoutOffset(), again.stdout()));
    }
}
