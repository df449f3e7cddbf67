/**
 * The agent protocol: the one contract between {@code ibex.server.rpc} and {@code ibex.agent}. This
 * package encodes and decodes frames over streams; it opens no sockets and starts no threads.
 * Imports: {@code java.*} and {@code ibex.core} only.
 *
 * <h2>Connection lifecycle</h2>
 * <ol>
 * <li>The agent connects over TCP. The server sends {@link ibex.wire.Greeting} first, carrying its
 *     {@link ibex.wire.Frames#PROTOCOL_VERSION}, its name and {@link ibex.wire.Greeting#NONCE_BYTES}
 *     fresh random bytes; or, when it holds as many connections as it may, ErrorReply BUSY instead
 *     (plain port; a TLS port just closes), and closes. The agent tries again after its backoff.</li>
 * <li>The agent answers {@link ibex.wire.Hello} within {@link ibex.wire.Frames#HELLO_TIMEOUT_MS}
 *     ({@link ibex.wire.Frames#TLS_HELLO_TIMEOUT_MS} on a TLS port, TLS handshake included);
 *     otherwise the server closes the connection (no reply). The bound ends once the Hello has
 *     passed the server's checks: what remains is the server's work. A first frame from the agent that is not a
 *     Hello gets ErrorReply PROTOCOL.</li>
 * <li>The server answers {@link ibex.wire.Welcome} (accepted) or {@link ibex.wire.ErrorReply} and
 *     closes: VERSION when the Hello's version differs from its own, AUTH when authentication fails
 *     (reserved; version 1 sends empty proof, publicKey and signature), HOST_TAKEN when another agent
 *     (a different agentId) is connected for the same host. The same agentId reconnecting replaces its
 *     old connection. An agent that receives a Greeting with a version it does not speak sends
 *     ErrorReply VERSION and closes.</li>
 * <li>After Welcome the agent sends {@link ibex.wire.Heartbeat} every {@code heartbeatMs}
 *     milliseconds, {@code seq} counting up from 1 on each connection. The server answers every
 *     heartbeat with {@link ibex.wire.Assignments} whose {@code ackSeq} is that seq.</li>
 * <li>The server may push at any time: {@link ibex.wire.TaskScript} (a task's inputs), and
 *     Assignments with {@code ackSeq} 0 when the host's assignments change. A TaskScript is sent
 *     before the first Assignments that names its task on a connection.</li>
 * <li>An agent that holds an assignment for a task whose inputs it does not have (restarted, missed
 *     a push) sends {@link ibex.wire.ScriptRequest}; the server answers with the TaskScript, or with
 *     nothing if the task no longer exists (the next Assignments will not name it).</li>
 * <li>Results: the agent reports every run it has a result for until the server acks it
 *     ({@link ibex.wire.Assignments.Ack}, same task and clock), in the reply to the heartbeat that
 *     carried it. An ack means the result is stored; the agent may forget it. A reply without the
 *     ack means the server could not store it: the agent sends it again in a later heartbeat (until
 *     that reply it does not), and sends every unacked result on a new connection. Acking a report
 *     twice, or a report the server ignores (stale clock), is harmless; the server acks it too so
 *     the agent stops sending it.</li>
 * <li>Live output: while a run is running, the agent sends reports with status {@code running}
 *     carrying the next pieces of its stdout and stderr. Each piece starts at an offset into the
 *     stream's text counted in UTF-8 bytes; the text of every stream starts at 0 on each connection.
 *     The receiver applies {@link ibex.wire.LiveText}: a repeat changes nothing, an overlap adds its
 *     new part, a gap is marked with a line; the first piece of a run on a connection replaces what
 *     an earlier connection left. The agent sends at most 64 KiB per stream and run in one
 *     heartbeat, stops at its output cap (keeping the head, then one line saying so) and never
 *     splits a UTF-8 character. Running reports are never acked; the result replaces live output.</li>
 * <li>{@code tasks} in Assignments is the host's complete current list: the agent starts each START
 *     whose (task, clock) it has not run yet, kills each KILL that is running, and needs no history of
 *     earlier pushes.</li>
 * <li>Liveness: each side treats a connection that has delivered no frame for
 *     {@link ibex.wire.Frames#MISSED_HEARTBEATS} heartbeat intervals plus 5 s
 *     ({@link ibex.wire.Frames#deadAfterMs}) as dead and closes it.</li>
 * <li>Errors: any protocol error (a {@link ibex.wire.WireException}, a message the receiver does not
 *     expect in its state, such as a second Hello or a Heartbeat sent to the agent) is answered with
 *     ErrorReply (PROTOCOL, or TOO_LARGE for an oversize frame) and the close of that connection only;
 *     the receiver of an ErrorReply closes too. The agent reconnects with backoff.</li>
 * </ol>
 *
 * <h2>Frame</h2>
 * <pre>
 *   u32 length    big-endian; counts the type byte and the body; 1 .. limit
 *   u8  type      message type code (below)
 *   ... body      length - 1 bytes: the message's fields, in order, nothing after them
 * </pre>
 * The reader rejects a length of 0 and a length above its limit ({@link ibex.wire.Frames#DEFAULT_MAX},
 * 16 MiB, unless configured) before allocating anything. Trailing bytes after a message's last field,
 * an unknown type code and a frame the stream ends inside are errors. A stream that ends before a
 * frame's first byte is a clean close ({@link java.io.EOFException}).
 *
 * <h2>Primitives</h2>
 * <pre>
 *   u8       1 byte, unsigned
 *   i32      4 bytes, big-endian, two's complement
 *   i64      8 bytes, big-endian, two's complement
 *   bytes    u32 n, then n raw bytes
 *   string   u32 n, then n bytes of UTF-8. Strict: malformed UTF-8 (bad bytes, overlong forms,
 *            encoded surrogates) is an error. The encoder sends an unpaired surrogate as '?'.
 *   list&lt;T&gt;  u32 count, then count items of T
 * </pre>
 * Every length and count is checked against the bytes left in the body before it is used, a count
 * as {@code count * smallest item encoding}; so a frame cannot make the decoder allocate more than a
 * small multiple of its own length.
 *
 * <h2>Messages</h2>
 * Type codes are fixed forever: never renumber, only add. Direction: S = server, A = agent.
 * <pre>
 * 0x01 Greeting       S&rarr;A  i32 protocolVersion, string server, bytes nonce (32 bytes)
 * 0x02 Hello          A&rarr;S  i32 protocolVersion, string host, string agentId, string agentVersion,
 *                           bytes proof, bytes publicKey, bytes signature   (all three empty in v1)
 * 0x03 Welcome        S&rarr;A  string server, i32 heartbeatMs
 * 0x10 Heartbeat      A&rarr;S  i64 seq, list&lt;Report&gt; reports
 *      Report               i64 taskId, i64 clock, string status, i32 exitCode,
 *                           i64 stdoutOffset, string stdout, i64 stderrOffset, string stderr
 *                           status: HostStatus.wire() name, one of running, success, failed, killed,
 *                           killfailed, timeout; any other name is an error. exitCode -1 = none.
 *                           Offsets: where the string starts in the run's live text (running), in
 *                           UTF-8 bytes; never negative; a result's are 0 (it carries the whole
 *                           reported output). Anything else is an error.
 * 0x11 Assignments    S&rarr;A  i64 ackSeq, list&lt;Ack&gt; acks, list&lt;Assignment&gt; tasks
 *      Ack                  i64 taskId, i64 clock
 *      Assignment           i64 taskId, i64 clock, u8 kind (1 = START, 2 = KILL; others are an error)
 * 0x12 TaskScript     S&rarr;A  i64 taskId, string script, string args, string stdin, string account,
 *                           i32 timeoutSeconds
 * 0x13 ScriptRequest  A&rarr;S  i64 taskId
 * 0x7F ErrorReply     both  i32 code, string message      (codes: ErrorReply.PROTOCOL = 1, VERSION = 2,
 *                           AUTH = 3, HOST_TAKEN = 4, TOO_LARGE = 5, INTERNAL = 6,
 *                           BUSY = 7; unknown = INTERNAL)
 * </pre>
 *
 * <h2>Compatibility</h2>
 * The layouts of Greeting, Hello and ErrorReply are frozen across protocol versions, so two versions
 * can always complete the handshake far enough to refuse each other with ErrorReply VERSION. A later
 * version changes other messages or adds new type codes.
 *
 * <h2>Limits</h2>
 * Frame length at most the receiver's limit (16 MiB by default). The codec does not know the peer's
 * limit; senders keep their frames small: the agent caps the captured stdout and stderr of a run
 * (at most 2 MiB each, default 1 MiB) and fills one Heartbeat with results up to about 6 MiB and live
 * output up to 4 MiB, leaving the rest for the next one, so a Heartbeat stays under 16 MiB (an
 * oversize heartbeat would be refused with TOO_LARGE on every reconnect).
 *
 * <h2>API</h2>
 * {@link ibex.wire.Codec} (encode a message to a frame, decode a body), {@link ibex.wire.FrameReader}
 * (one reader thread per stream), {@link ibex.wire.FrameWriter} (thread-safe, one frame per call,
 * flushed), {@link ibex.wire.WireException}, the message records and {@link ibex.wire.Frames}.
 */
package ibex.wire;
