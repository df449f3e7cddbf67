package ibex.wire;

import ibex.core.Assignment;
import ibex.core.HostStatus;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;

/** Messages and frame bytes for the wire tests: one fixed example of each type and a random source. */
final class Samples {
    private Samples() {
    }

    static final String UNICODE = "héllo wörld — 日本語 ✓ \uD83D\uDE80 \u0000 end";

    /** One message of every type, with non-trivial contents. */
    static List<Message> everyType() {
        byte[] nonce = new byte[Greeting.NONCE_BYTES];
        Arrays.fill(nonce, (byte) 0xA5);
        return List.of(
                new Greeting(Frames.PROTOCOL_VERSION, "ibex-server-1", nonce),
                new Hello(1, "db-7", "agent-uuid", "0.1.0", new byte[] {1, 2}, new byte[] {3}, new byte[] {(byte) 0xFF}),
                new Welcome("ibex-server-1", 1000),
                new Heartbeat(42, List.of(
                        new Heartbeat.Report(7, 1_700_000_000_000L, HostStatus.SUCCESS, 0, "ok\n", ""),
                        Heartbeat.Report.running(8, 3, 65536, UNICODE, 12, "warn"))),
                new Assignments(42, List.of(new Assignments.Ack(7, 1_700_000_000_000L)), List.of(
                        new Assignment(9, 11, Assignment.Kind.START), new Assignment(8, 3, Assignment.Kind.KILL))),
                new TaskScript(9, "#!/bin/sh\necho \"$1\"\n", "a,,b", "input", "root", 30),
                new ScriptRequest(Long.MAX_VALUE),
                new ErrorReply(ErrorReply.HOST_TAKEN, "host 'db-7' is connected from agent 'x'"));
    }

    /** A random valid message; mostly small, sometimes with a long string. */
    static Message random(Random r) {
        return switch (r.nextInt(8)) {
            case 0 -> new Greeting(r.nextInt(), string(r), bytes(r));
            case 1 -> new Hello(r.nextInt(), string(r), string(r), string(r), bytes(r), bytes(r), bytes(r));
            case 2 -> new Welcome(string(r), r.nextInt());
            case 3 -> {
                var reports = new ArrayList<Heartbeat.Report>();
                for (int i = r.nextInt(4); i > 0; i--) {
                    var status = reportable(r);
                    boolean live = status == HostStatus.RUNNING;
                    reports.add(new Heartbeat.Report(r.nextLong(), r.nextLong(), status, r.nextInt(),
                            live ? r.nextLong(Long.MAX_VALUE) : 0, string(r), live ? r.nextLong(Long.MAX_VALUE) : 0, string(r)));
                }
                yield new Heartbeat(r.nextLong(), reports);
            }
            case 4 -> {
                var acks = new ArrayList<Assignments.Ack>();
                for (int i = r.nextInt(4); i > 0; i--) {
                    acks.add(new Assignments.Ack(r.nextLong(), r.nextLong()));
                }
                var tasks = new ArrayList<Assignment>();
                for (int i = r.nextInt(4); i > 0; i--) {
                    tasks.add(new Assignment(r.nextLong(), r.nextLong(),
                            r.nextBoolean() ? Assignment.Kind.START : Assignment.Kind.KILL));
                }
                yield new Assignments(r.nextLong(), acks, tasks);
            }
            case 5 -> new TaskScript(r.nextLong(), string(r), string(r), string(r), string(r), r.nextInt());
            case 6 -> new ScriptRequest(r.nextLong());
            default -> new ErrorReply(r.nextInt(8), string(r));
        };
    }

    static HostStatus reportable(Random r) {
        var all = Arrays.stream(HostStatus.values()).filter(Heartbeat.Report::reportable).toList();
        return all.get(r.nextInt(all.size()));
    }

    /** Well-formed strings (no lone surrogates), so a round trip is exact. */
    static String string(Random r) {
        int n = r.nextInt(50) == 0 ? r.nextInt(5000) : r.nextInt(12);
        var sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            switch (r.nextInt(4)) {
                case 0 -> sb.append((char) ('a' + r.nextInt(26)));
                case 1 -> sb.append((char) r.nextInt(0x80));
                case 2 -> sb.append((char) (0x100 + r.nextInt(0xD000)));
                default -> sb.appendCodePoint(0x10000 + r.nextInt(0x10000));
            }
        }
        return sb.toString();
    }

    static byte[] bytes(Random r) {
        var b = new byte[r.nextInt(40)];
        r.nextBytes(b);
        return b;
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (var p : parts) {
            n += p.length;
        }
        var out = new byte[n];
        int at = 0;
        for (var p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    /** The body of a frame built with {@link BodyWriter}: everything after length and type. */
    static byte[] body(BodyWriter w) {
        return Arrays.copyOfRange(w.frame(0), 5, w.frame(0).length);
    }
}
