package ibex.wire;

import ibex.core.Assignment;
import ibex.core.HostStatus;
import java.util.ArrayList;
import java.util.List;

/**
 * The one encoder and decoder of the agent protocol. Field layouts are in package-info; the order of
 * the calls here is that layout. Type codes are fixed forever: never renumber, only add.
 */
public final class Codec {
    static final int GREETING = 0x01;
    static final int HELLO = 0x02;
    static final int WELCOME = 0x03;
    static final int HEARTBEAT = 0x10;
    static final int ASSIGNMENTS = 0x11;
    static final int TASK_SCRIPT = 0x12;
    static final int SCRIPT_REQUEST = 0x13;
    static final int ERROR_REPLY = 0x7F;

    // Smallest encoding of one list item, for the count check before allocating.
    private static final int MIN_REPORT = 8 + 8 + 4 + 4 + 8 + 4 + 8 + 4;
    private static final int MIN_ACK = 8 + 8;
    private static final int MIN_ASSIGNMENT = 8 + 8 + 1;

    private static final int KIND_START = 1;
    private static final int KIND_KILL = 2;

    private Codec() {
    }

    /**
     * The whole frame, length prefix included. Never fails on content (strings with unpaired
     * surrogates are sent with '?'); throws IllegalArgumentException only for a message too large for
     * a Java array. Whether the frame fits the peer's limit is the caller's concern.
     */
    public static byte[] encode(Message m) {
        var w = new BodyWriter();
        return switch (m) {
            case Greeting g -> w.i32(g.protocolVersion()).string(g.server()).bytes(g.nonce()).frame(GREETING);
            case Hello h -> w.i32(h.protocolVersion()).string(h.host()).string(h.agentId())
                    .string(h.agentVersion()).bytes(h.proof()).bytes(h.publicKey()).bytes(h.signature())
                    .frame(HELLO);
            case Welcome wl -> w.string(wl.server()).i32(wl.heartbeatMs()).frame(WELCOME);
            case Heartbeat hb -> {
                w.i64(hb.seq()).count(hb.reports().size());
                for (var r : hb.reports()) {
                    w.i64(r.taskId()).i64(r.clock()).string(r.status().wire()).i32(r.exitCode())
                            .i64(r.stdoutOffset()).string(r.stdout()).i64(r.stderrOffset()).string(r.stderr());
                }
                yield w.frame(HEARTBEAT);
            }
            case Assignments a -> {
                w.i64(a.ackSeq()).count(a.acks().size());
                for (var ack : a.acks()) {
                    w.i64(ack.taskId()).i64(ack.clock());
                }
                w.count(a.tasks().size());
                for (var t : a.tasks()) {
                    w.i64(t.taskId()).i64(t.clock()).u8(switch (t.kind()) {
                        case START -> KIND_START;
                        case KILL -> KIND_KILL;
                    });
                }
                yield w.frame(ASSIGNMENTS);
            }
            case TaskScript t -> w.i64(t.taskId()).string(t.script()).string(t.args()).string(t.stdin())
                    .string(t.account()).i32(t.timeoutSeconds()).frame(TASK_SCRIPT);
            case ScriptRequest s -> w.i64(s.taskId()).frame(SCRIPT_REQUEST);
            case ErrorReply e -> w.i32(e.code()).string(e.message()).frame(ERROR_REPLY);
        };
    }

    /** Decodes one frame body (the bytes after the type byte); the whole body must be used. */
    public static Message decode(int type, byte[] body) throws WireException {
        var r = new BodyReader(type, body);
        Message m = switch (type) {
            case GREETING -> new Greeting(r.i32("protocolVersion"), r.string("server"), r.bytes("nonce"));
            case HELLO -> new Hello(r.i32("protocolVersion"), r.string("host"), r.string("agentId"),
                    r.string("agentVersion"), r.bytes("proof"), r.bytes("publicKey"), r.bytes("signature"));
            case WELCOME -> new Welcome(r.string("server"), r.i32("heartbeatMs"));
            case HEARTBEAT -> heartbeat(r);
            case ASSIGNMENTS -> assignments(r);
            case TASK_SCRIPT -> new TaskScript(r.i64("taskId"), r.string("script"), r.string("args"),
                    r.string("stdin"), r.string("account"), r.i32("timeoutSeconds"));
            case SCRIPT_REQUEST -> new ScriptRequest(r.i64("taskId"));
            case ERROR_REPLY -> new ErrorReply(r.i32("code"), r.string("message"));
            default -> throw new WireException("unknown message type " + hex(type));
        };
        r.end();
        return m;
    }

    private static Heartbeat heartbeat(BodyReader r) throws WireException {
        long seq = r.i64("seq");
        int n = r.count("reports", MIN_REPORT);
        var reports = new ArrayList<Heartbeat.Report>(n);
        for (int i = 0; i < n; i++) {
            long taskId = r.i64("taskId");
            long clock = r.i64("clock");
            String name = r.string("status");
            HostStatus status = HostStatus.parse(name)
                    .orElseThrow(() -> r.invalid("task " + taskId + ": unknown status '" + name + "'"));
            if (!Heartbeat.Report.reportable(status)) {
                throw r.invalid("task " + taskId + ": status '" + name + "' cannot be reported");
            }
            int exitCode = r.i32("exitCode");
            long stdoutOffset = r.i64("stdoutOffset");
            String stdout = r.string("stdout");
            long stderrOffset = r.i64("stderrOffset");
            String stderr = r.string("stderr");
            String bad = Heartbeat.Report.offsetProblem(status, stdoutOffset, stderrOffset);
            if (bad != null) {
                throw r.invalid("task " + taskId + ": " + bad);
            }
            reports.add(new Heartbeat.Report(taskId, clock, status, exitCode, stdoutOffset, stdout, stderrOffset, stderr));
        }
        return new Heartbeat(seq, reports);
    }

    private static Assignments assignments(BodyReader r) throws WireException {
        long ackSeq = r.i64("ackSeq");
        int nAcks = r.count("acks", MIN_ACK);
        var acks = new ArrayList<Assignments.Ack>(nAcks);
        for (int i = 0; i < nAcks; i++) {
            acks.add(new Assignments.Ack(r.i64("taskId"), r.i64("clock")));
        }
        int nTasks = r.count("tasks", MIN_ASSIGNMENT);
        List<Assignment> tasks = new ArrayList<>(nTasks);
        for (int i = 0; i < nTasks; i++) {
            long taskId = r.i64("taskId");
            long clock = r.i64("clock");
            int kind = r.u8("kind");
            tasks.add(new Assignment(taskId, clock, switch (kind) {
                case KIND_START -> Assignment.Kind.START;
                case KIND_KILL -> Assignment.Kind.KILL;
                default -> throw r.invalid("task " + taskId + ": unknown assignment kind " + kind);
            }));
        }
        return new Assignments(ackSeq, acks, tasks);
    }

    /** "0x10 (Heartbeat)" for a known type, "0x42" otherwise; used in error messages. */
    static String typeName(int type) {
        String name = switch (type) {
            case GREETING -> "Greeting";
            case HELLO -> "Hello";
            case WELCOME -> "Welcome";
            case HEARTBEAT -> "Heartbeat";
            case ASSIGNMENTS -> "Assignments";
            case TASK_SCRIPT -> "TaskScript";
            case SCRIPT_REQUEST -> "ScriptRequest";
            case ERROR_REPLY -> "ErrorReply";
            default -> null;
        };
        return name == null ? hex(type) : hex(type) + " (" + name + ")";
    }

    private static String hex(int type) {
        return String.format("0x%02X", type);
    }
}
