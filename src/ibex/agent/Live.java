package ibex.agent;

import ibex.wire.Heartbeat;
import ibex.wire.LiveText;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * Live output of running runs on one connection (a new connection starts a new Live, so every
 * stream starts again at offset 0, as the protocol says). Each heartbeat takes the next piece of
 * each run's stdout and stderr from their files: at most {@link #MAX_PIECE} bytes per stream, never
 * a UTF-8 character cut in two, and nothing past the cap but one line saying live output stops
 * there. Only the heartbeat thread uses it.
 */
final class Live {
    /** Bytes read per stream, run and heartbeat. */
    static final int MAX_PIECE = 64 * 1024;

    private final int cap;
    private final Map<Runner.Key, Stream[]> streams = new HashMap<>();
    private int rotate;

    Live(int cap) {
        this.cap = cap;
    }

    /** How far one stream got: bytes of the file taken, bytes of text sent. */
    private static final class Stream {
        long raw;
        long text;
        boolean ended;
    }

    private record Piece(long offset, String text) {
    }

    static String capLine(int cap) {
        return "\n... [ibex: live output stops at the cap of " + cap + " bytes; the result keeps the head and the tail] ...\n";
    }

    /**
     * The running reports of this heartbeat, about {@code budget} bytes of text in all (one piece
     * may pass it). The runs take turns at the front, so none waits behind the others for long.
     */
    List<Heartbeat.Report> next(List<Runner.Key> running, MetaDir meta, long budget) {
        streams.keySet().retainAll(new HashSet<>(running));
        var out = new ArrayList<Heartbeat.Report>();
        int n = running.size();
        for (int i = 0; i < n && budget > 0; i++) {
            var key = running.get(Math.floorMod(rotate + i, n));
            var s = streams.computeIfAbsent(key, k -> new Stream[] {new Stream(), new Stream()});
            var o = piece(meta.stdout(key.taskId(), key.clock()), s[0]);
            var e = piece(meta.stderr(key.taskId(), key.clock()), s[1]);
            if (!o.text().isEmpty() || !e.text().isEmpty()) {
                out.add(Heartbeat.Report.running(key.taskId(), key.clock(), o.offset(), o.text(), e.offset(), e.text()));
                budget -= LiveText.utf8Length(o.text()) + LiveText.utf8Length(e.text());
            }
        }
        rotate++;
        return out;
    }

    private Piece piece(Path file, Stream s) {
        if (s.ended) {
            return new Piece(s.text, "");
        }
        long size = Output.size(file);
        int n = (int) Math.min(MAX_PIECE, Math.min(size, cap) - s.raw);
        String text;
        if (n > 0) {
            byte[] b;
            try {
                b = Output.read(file, s.raw, n);
            } catch (java.io.IOException e) {
                return new Piece(s.text, "");
            }
            // At the cap the piece ends where the cap is; elsewhere an unfinished character waits.
            int take = s.raw + b.length >= cap ? b.length : Output.completeLength(b, b.length);
            text = Output.decode(b, 0, take);
            s.raw += take;
        } else if (size > cap) {
            text = capLine(cap);
            s.ended = true;
        } else {
            return new Piece(s.text, "");
        }
        var p = new Piece(s.text, text);
        s.text += LiveText.utf8Length(text);
        return p;
    }
}
