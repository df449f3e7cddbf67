package ibex.wire;

/**
 * One frame's content. The permitted records are the whole protocol; {@link Codec} switches over
 * them exhaustively, so a new message that is not encoded and decoded does not compile.
 */
public sealed interface Message
        permits Greeting, Hello, Welcome, Heartbeat, Assignments, TaskScript, ScriptRequest, ErrorReply {
}
