package ibex.server.rpc;

import ibex.core.Assignment;
import ibex.core.Counters;
import ibex.core.HostChange;
import ibex.core.InvalidTask;
import ibex.core.Log;
import ibex.core.TaskSpec;
import ibex.store.DispatchStore.Result;
import ibex.store.StoreException;
import ibex.wire.Assignments;
import ibex.wire.ErrorReply;
import ibex.wire.FrameDecoder;
import ibex.wire.FrameReader;
import ibex.wire.FrameWriter;
import ibex.wire.Frames;
import ibex.wire.Greeting;
import ibex.wire.Handshake;
import ibex.wire.Heartbeat;
import ibex.wire.Hello;
import ibex.wire.Message;
import ibex.wire.ScriptRequest;
import ibex.wire.Welcome;
import ibex.wire.WireException;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One agent connection: handshake on its own virtual thread, then heartbeats answered from the
 * in-memory assignments, read by the {@link ReadLoop} (plain) or by that thread (TLS). Pushes (new
 * starts, kills) are written by a short-lived virtual thread so the scheduler never blocks on a
 * slow agent; several pushes fold into one.
 *
 * <p>This file is over 400 lines because the handshake, the reading of frames within the hub's
 * memory budget, heartbeats and pushes share one connection's state (its assignments, the scripts
 * it was sent, whether it is welcomed, closed or silent) and its locking; split, that state would
 * be package-wide. Live output, which needs none of it, is {@link LiveOutput}'s.
 */
final class AgentSession implements ReadLoop.Readable {
    /** A watched connection's read buffer: a heartbeat is a few dozen bytes, 10,000 connections share the heap. */
    private static final int SMALL_READ_BYTES = 512;
    /** Frames from this size on take memory from the hub's budget for large frames while they are read and handled. */
    static final int BUDGETED_FROM = 4096;
    /** One read of a large frame's rest takes at most this. */
    private static final int LARGE_READ_BYTES = 64 * 1024;
    private static final SecureRandom RANDOM = new SecureRandom();
    private final AgentHub hub;
    private final Socket socket;
    private final String remote;
    private final Map<Long, Assignment> assignments = new TreeMap<>();
    /** Live output of the runs going, as this connection reported it; used by the reading thread only. */
    private final LiveOutput live = new LiveOutput();
    /** Tasks whose inputs this connection has sent (pushes and the reading thread both add). */
    private final Set<Long> scriptsSent = ConcurrentHashMap.newKeySet();
    private final AtomicBoolean flushQueued = new AtomicBoolean();
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicBoolean ended = new AtomicBoolean();
    private final AtomicBoolean timedOut = new AtomicBoolean();
    /** This connection's place in the hub's {@link Admission}. */
    private final Admission.Ticket ticket;
    /** The plain connection's channel, watched by the read loop once welcomed; null for TLS. */
    private final SocketChannel channel;
    /** The partial frame of a watched connection, between two reads. */
    private final FrameDecoder decoder;
    private final ByteBuffer small;
    /** A watched connection's bytes are being read: it is not silent, whatever waitingSince says. */
    private volatile boolean reading;
    /** What this connection holds of the hub's budget for large frames, in KiB; used by its reading thread. */
    private int reservedKib;
    private volatile boolean registered;
    /** Set once Welcome is written: nothing may be pushed to an agent before its Welcome. */
    private volatile boolean welcomed;
    /** Since when (System.nanoTime) this connection waits for a frame, 0 while it is not waiting. */
    private volatile long waitingSince;
    private volatile long silentLimitNanos;
    private volatile FrameWriter out;
    /** A TLS connection's output, watched for a write the agent never takes; null on a plain connection. */
    private volatile WatchedOutput tlsOutput;
    private String host = "";
    private String agentId = "";
    /** When this connection was accepted: runs started before it are not counted as dispatched by it. */
    private final long since;

    AgentSession(AgentHub hub, Socket socket, Admission.Ticket ticket) {
        this.hub = hub;
        this.socket = socket;
        this.ticket = ticket;
        this.since = hub.clock.millis();
        this.remote = socket.getRemoteSocketAddress().toString().replaceFirst("^/", "");
        this.channel = socket.getChannel();
        this.decoder = channel == null ? null : new FrameDecoder(hub.settings().maxFrameBytes());
        this.small = channel == null ? null : ByteBuffer.allocate(SMALL_READ_BYTES);
    }

    String host() {
        return host;
    }

    String agentId() {
        return agentId;
    }

    String remote() {
        return remote;
    }

    boolean closed() {
        return closed.get();
    }

    /**
     * Serves the connection from its handshake on, on the accepting virtual thread. A plain
     * connection is handed to the {@link ReadLoop} once welcomed, and this thread ends; a TLS one
     * (an SSLSocket has no channel) keeps this thread and reads its frames here.
     */
    void run() {
        try {
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(handshakeMs());
            // The read timeout is renewed by every byte; this bounds the agent's part of the
            // handshake, so a client dripping its Hello cannot hold the connection. Once the agent
            // is registered what is left is the server's own work, which a server busy with a
            // connect storm may finish late: closing then would throw that work away and bring
            // the agent back into the storm.
            hub.timer.schedule(() -> {
                if (!registered && !closed()) {
                    handshakeTimedOut();
                }
            }, handshakeMs(), java.util.concurrent.TimeUnit.MILLISECONDS);
            // A plain connection reads its Hello unbuffered (the frame reader asks for exact
            // lengths), so no byte after it is left in a buffer when the read loop takes over.
            // Small buffers otherwise: 18,000 connections share one heap.
            var in = new FrameReader(channel != null ? socket.getInputStream() : new BufferedInputStream(socket.getInputStream(), 512),
                    hub.settings().maxFrameBytes());
            if (channel == null) {
                tlsOutput = new WatchedOutput(socket.getOutputStream());
            }
            out = new FrameWriter(channel != null ? socket.getOutputStream() : tlsOutput);
            if (!handshake(in)) {
                end();      // refused: the refusal is written, the timer need not close it
                return;
            }
            if (channel != null) {
                channel.configureBlocking(false);
                out = new FrameWriter(new ChannelOutput(channel));
                welcomed = true;
                flush();
                waitingSince = System.nanoTime();
                hub.readLoop.watch(channel, this);
                return;
            }
            welcomed = true;
            flush();
            while (!closed()) {
                waitingSince = System.nanoTime();
                Message m = in.read();
                waitingSince = 0;
                if (!handle(m)) {
                    break;
                }
            }
        } catch (Exception e) {
            failed(e);
        }
        end();
    }

    /**
     * Greeting, Hello, checks, registration, Welcome. False when the agent was refused (the
     * refusal is written) and the connection must end.
     */
    private boolean handshake(FrameReader in) throws IOException {
        var nonce = new byte[32];
        RANDOM.nextBytes(nonce);
        out.write(new Greeting(Frames.PROTOCOL_VERSION, hub.serverName(), nonce));
        if (!(in.read() instanceof Hello hello)) {
            refuse(ErrorReply.PROTOCOL, "the first frame must be Hello");
            return false;
        }
        if (hello.protocolVersion() != Frames.PROTOCOL_VERSION) {
            refuse(ErrorReply.VERSION, "protocol version " + hello.protocolVersion() + " is not supported; this server speaks "
                    + Frames.PROTOCOL_VERSION);
            return false;
        }
        try {
            TaskSpec.checkHost(hello.host());
        } catch (InvalidTask e) {
            refuse(ErrorReply.PROTOCOL, e.getMessage());
            return false;
        }
        if (hello.agentId().isEmpty() || hello.agentId().length() > 64 || hello.agentVersion().length() > 64) {
            refuse(ErrorReply.PROTOCOL, "agentId must be 1..64 characters and agentVersion at most 64, got "
                    + hello.agentId().length() + " and " + hello.agentVersion().length());
            return false;
        }
        var refusedAuth = authenticate(hello, nonce);
        if (refusedAuth != null) {
            Log.warn("rpc", "refused agent '" + hello.host() + "' from " + remote + ": " + refusedAuth);
            refuse(ErrorReply.AUTH, refusedAuth);
            return false;
        }
        host = hello.host();
        agentId = hello.agentId();
        var refusal = hub.register(this);
        if (refusal != null) {
            Log.warn("rpc", "refused agent from " + remote + ": " + refusal);
            refuse(ErrorReply.HOST_TAKEN, refusal);
            return false;
        }
        registered = true;
        hub.admission.registered(ticket);
        var current = hub.dispatch.assignments(List.of(host)).get(host);
        synchronized (assignments) {
            current.forEach(a -> assignments.put(a.taskId(), a));
        }
        hub.present(this, true);
        int beat = hub.settings().heartbeatMs();
        out.write(new Welcome(hub.serverName(), beat));
        // Liveness is the hub's sweep over waitingSince, not a read timeout: a timed read on a
        // virtual thread schedules and cancels a timer task on every heartbeat, which showed in
        // CPU and, parked for a second, filled the old generation (issue 6).
        silentLimitNanos = Frames.deadAfterMs(beat) * 1_000_000L;
        socket.setSoTimeout(0);
        Log.info("rpc", "agent " + host + " connected from " + remote + " (" + hello.agentVersion() + ", "
                + current.size() + " assignment(s))");
        hub.counters.inc(Counters.Counter.AGENT_CONNECTS);
        return true;
    }

    @Override
    public void reading() {
        reading = true;
        waitingSince = 0;
    }

    /** Reads and handles what arrived on a watched connection, then asks to be watched again. */
    @Override
    public void readable() {
        try {
            while (!closed()) {
                // Heartbeats fit the connection's small buffer; the rest of a large frame is read
                // in bigger pieces into a buffer that lives for this read only.
                int missing = decoder.missing();
                var buf = missing > small.capacity() ? ByteBuffer.allocate(Math.min(missing, LARGE_READ_BYTES)) : small.clear();
                int n = channel.read(buf);
                if (n < 0) {
                    if (decoder.partial()) {
                        throw new WireException("truncated frame: the connection closed inside a frame");
                    }
                    throw new EOFException("connection closed");
                }
                if (n == 0) {
                    waitingSince = System.nanoTime();
                    reading = false;
                    hub.readLoop.rearm(channel);
                    return;
                }
                buf.flip();
                for (;;) {
                    Message m = decoder.next(buf);
                    reserve(decoder.length());
                    if (m == null) {
                        break;
                    }
                    boolean go = handle(m);
                    unreserve();
                    if (!go) {
                        end();
                        return;
                    }
                }
            }
        } catch (Exception e) {
            failed(e);
        }
        end();
    }

    @Override
    public void ended() {
        end();
    }

    /**
     * Takes memory for a large frame from the hub's budget before its body is read (waiting while
     * other connections' large frames are being handled), once per frame.
     */
    private void reserve(int frameLength) throws IOException {
        if (reservedKib == 0 && frameLength >= BUDGETED_FROM) {
            int kib = Math.min((frameLength + 1023) / 1024, AgentHub.LARGE_FRAMES_KIB);
            try {
                hub.largeFrames.acquire(kib);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for memory to read a frame of " + frameLength + " bytes");
            }
            reservedKib = kib;
        }
    }

    private void unreserve() {
        if (reservedKib > 0) {
            hub.largeFrames.release(reservedKib);
            reservedKib = 0;
        }
    }

    /** One frame from a welcomed agent; false when the connection must end. */
    private boolean handle(Message m) throws IOException {
        switch (m) {
            case Heartbeat hb -> heartbeat(hb);
            case ScriptRequest r -> {
                var script = hub.scripts.get(r.taskId());
                if (script.isPresent()) {
                    sendScript(script.get());
                }
            }
            case ErrorReply e -> {
                Log.warn("rpc", "agent " + host + " sent error " + ErrorReply.codeName(e.code()) + ": " + e.message());
                return false;
            }
            default -> {
                hub.counters.inc(Counters.Counter.FRAME_ERRORS);
                refuse(ErrorReply.PROTOCOL, "unexpected " + m.getClass().getSimpleName() + " from an agent");
                return false;
            }
        }
        return true;
    }

    private int handshakeMs() {
        return channel == null ? Frames.TLS_HELLO_TIMEOUT_MS : Frames.HELLO_TIMEOUT_MS;
    }

    /**
     * The agent's part of the handshake ran out of time: seen by the timer or by the read timeout,
     * whichever comes first; counted once, logged at most every 10 s (they come in storms), closed.
     */
    private void handshakeTimedOut() {
        if (timedOut.compareAndSet(false, true)) {
            hub.counters.inc(Counters.Counter.HANDSHAKE_TIMEOUTS);
            if (hub.handshakeTimeoutLog.allow()) {
                Log.warn("rpc", "agent " + label() + ": no Hello read and checked within " + handshakeMs() + " ms of connecting"
                        + " (a silent client, or a server too busy to check it), closing; "
                        + hub.counters.get(Counters.Counter.HANDSHAKE_TIMEOUTS) + " so far, logged at most every 10 s");
            }
        }
        close();
    }

    /** Logs why the connection failed and tells the agent when it is worth telling. */
    private void failed(Exception e) {
        switch (e) {
            case EOFException eof -> {
                // The agent closed the connection.
            }
            case SocketTimeoutException t -> handshakeTimedOut();     // only the handshake reads with a timeout
            case WireException w -> {
                hub.counters.inc(Counters.Counter.FRAME_ERRORS);
                Log.warn("rpc", "agent " + label() + ": " + w.getMessage());
                refuse(w.getMessage().contains("exceeds the limit") ? ErrorReply.TOO_LARGE : ErrorReply.PROTOCOL, w.getMessage());
            }
            case IOException io -> {
                if (!closed()) {
                    Log.info("rpc", "agent " + label() + ": connection lost: " + io.getMessage());
                }
            }
            default -> {
                Log.error("rpc", "agent " + label() + ": closing after an internal error", e);
                refuse(ErrorReply.INTERNAL, "internal error");
            }
        }
    }

    /** Closes the connection and, once, tells the hub the host is gone. */
    private void end() {
        close();
        unreserve();
        if (registered && ended.compareAndSet(false, true)) {
            hub.unregister(this);
            hub.present(this, false);
            Log.info("rpc", "agent " + host + " disconnected (" + remote + ")");
        }
    }

    /**
     * Checks the agent's proof of the token (when the server has one) and its signature, then pins
     * its key to the host name (first come) or compares it with the pinned key. Returns null when
     * the agent may continue, else the refusal text (which names no secret).
     */
    private String authenticate(Hello hello, byte[] nonce) {
        var transcript = Handshake.transcript(nonce, hello.host(), hello.agentId(), hello.publicKey());
        var token = hub.settings().token();
        if (token != null && !Handshake.proofMatches(token, transcript, hello.proof())) {
            return hello.proof().length == 0 ? "this server needs a token: set [Heartbeat] Token in agentd.conf"
                    : "authentication failed: the agent's token does not match this server's [RPC] Token";
        }
        if (hello.publicKey().length == 0) {
            return token != null ? "the agent sent no public key; host pinning needs one (upgrade the agent)" : null;
        }
        if (!Handshake.signatureMatches(hello.publicKey(), transcript, hello.signature())) {
            return "the agent's signature does not match its public key";
        }
        var offered = java.util.Base64.getEncoder().encodeToString(hello.publicKey());
        var pin = hub.pins.pinOrGet(hello.host(), offered, hello.agentId(), remote, hub.clock.millis());
        if (!pin.publicKey().equals(offered)) {
            return "host '" + hello.host() + "' is pinned to another agent's key (agent " + pin.agentId() + " from " + pin.remote()
                    + ", pinned " + java.time.Instant.ofEpochMilli(pin.pinned()) + "); if this host was reinstalled, release the name with: "
                    + "ibex agents forget " + hello.host();
        }
        return null;
    }

    /**
     * Closes this connection when it has waited longer than its limit for a frame and nothing is
     * waiting to be read (a busy server reading late is not a silent agent); called by the hub's
     * sweep. The time spent handling a frame does not count, as with a read timeout. Also closes a
     * TLS connection whose write has been blocked for {@link ChannelOutput#STALL_MS}.
     */
    void closeIfSilent(long now) {
        if (tlsOutput != null && tlsOutput.stalled(now) && !closed()) {
            Log.warn("rpc", "agent " + label() + ": has taken nothing for " + ChannelOutput.STALL_MS / 1000 + " s, closing");
            try {
                // An SSLSocket's close waits for the blocked writer's lock to send close_notify, up
                // to SO_LINGER seconds when it is set: 0 closes at once, without the alert.
                socket.setSoLinger(true, 0);
            } catch (IOException e) {
                // closed meanwhile
            }
            hub.submit(this::close);      // not on the sweep's thread, whatever close does
            return;
        }
        long since = waitingSince;
        if (welcomed && !closed() && since != 0 && silentLimitNanos > 0 && now - since > silentLimitNanos && nothingPending()) {
            Log.warn("rpc", "agent " + label() + ": nothing received in time, closing");
            close();
        }
    }

    private boolean nothingPending() {
        if (reading) {
            return false;
        }
        try {
            // Also for a watched connection: bytes the read loop has not got to yet are not silence.
            return socket.getInputStream().available() == 0;
        } catch (IOException e) {
            return true;
        }
    }

    private String label() {
        return host.isEmpty() ? "at " + remote : host + " (" + remote + ")";
    }

    private void heartbeat(Heartbeat hb) throws IOException {
        long began = System.nanoTime();
        hub.counters.inc(Counters.Counter.HEARTBEATS);
        var results = new ArrayList<Result>();
        for (var r : hb.reports()) {
            if (r.status().isResult()) {
                results.add(new Result(r.taskId(), host, r.clock(), r.status(), r.stdout(), r.stderr()));
                live.ended(r.taskId());
            }
        }
        var acks = new ArrayList<Assignments.Ack>();
        if (!results.isEmpty()) {
            // Counted as received, stored or not: a result the store refused is sent again.
            hub.counters.add(Counters.Counter.REPORTS, results.size());
            try {
                store(results, acks);
            } catch (StoreException e) {
                if (results.size() > 1 && e.refusedData()) {
                    // One result whose data the store refuses must not hold back those sent with it.
                    // Any other failure (the database went away) ends the attempt: each try
                    // could wait for a connection, and the rest go again anyway.
                    for (var r : results) {
                        try {
                            store(List.of(r), acks);
                        } catch (StoreException again) {
                            notStored(again);
                            if (!again.refusedData()) {
                                break;
                            }
                        }
                    }
                } else {
                    notStored(e);
                }
            }
        }
        for (var r : hb.reports()) {
            if (!r.status().isResult()) {
                live.accept(r);
            }
        }
        writeLive();
        out.write(new Assignments(hb.seq(), acks, current()));
        hub.counters.observeMicros(Counters.Timer.HEARTBEAT, (System.nanoTime() - began) / 1000);
    }

    /** Writes results (a duplicate changes nothing) and acks them all once the write committed. */
    private void store(List<Result> results, List<Assignments.Ack> acks) {
        var stored = hub.results.write(results);
        hub.countStored(stored);
        for (var r : results) {
            acks.add(new Assignments.Ack(r.taskId(), r.clock()));
        }
        synchronized (assignments) {
            for (var r : results) {
                var a = assignments.get(r.taskId());
                if (a != null && a.clock() == r.clock()) {
                    forget(r.taskId());
                }
            }
        }
        for (var r : stored) {
            Log.debug("rpc", "task " + r.taskId() + " host " + host + ": " + r.status());
        }
        stored.stream().mapToLong(Result::taskId).distinct().forEach(hub.resultsStored);
    }

    private void notStored(StoreException e) {
        // Not acked: the agent keeps the results on disk and sends them again.
        Log.warn("rpc", "agent " + host + ": results not stored, will be resent: " + e.getMessage());
    }

    /** Writes pending live output when a write is due. */
    private void writeLive() {
        long now = System.nanoTime();
        if (!live.due(now)) {
            return;
        }
        synchronized (assignments) {
            live.keepOnly(assignments.keySet());
        }
        live.write(host, hub.progress, now);
    }

    /** Drops a finished run; called with the assignments lock held. */
    private void forget(long taskId) {
        assignments.remove(taskId);
        scriptsSent.remove(taskId);
    }

    private List<Assignment> current() {
        synchronized (assignments) {
            return List.copyOf(assignments.values());
        }
    }

    /** Applies changes to this host's assignments and pushes the new list soon. */
    void change(List<HostChange> changes) {
        synchronized (assignments) {
            for (var c : changes) {
                if (c.assignment().isPresent()) {
                    assignments.put(c.taskId(), c.assignment().get());
                } else {
                    forget(c.taskId());
                }
            }
        }
        flushSoon();
    }

    /** Replaces this host's assignments with the store's list (a change made by another server). */
    void replace(List<Assignment> list) {
        synchronized (assignments) {
            var now = new java.util.HashMap<Long, Assignment>();
            list.forEach(a -> now.put(a.taskId(), a));
            if (now.equals(assignments)) {
                return;
            }
            for (var id : List.copyOf(assignments.keySet())) {
                if (!now.containsKey(id)) {
                    forget(id);
                }
            }
            assignments.putAll(now);
        }
        flushSoon();
    }

    private void flushSoon() {
        if (flushQueued.compareAndSet(false, true)) {
            hub.submit(() -> {
                flushQueued.set(false);
                try {
                    flush();
                } catch (IOException e) {
                    if (!closed()) {
                        Log.warn("rpc", "agent " + label() + ": closing, a push failed: " + e.getMessage());
                    }
                    close();
                }
            });
        }
    }

    /** Sends the inputs of starts this connection has not seen, then the full list. */
    private void flush() throws IOException {
        if (!welcomed || closed()) {
            return;
        }
        var list = current();
        var fresh = new ArrayList<Long>();
        var frames = new ArrayList<Message>();
        for (var a : list) {
            if (a.kind() == Assignment.Kind.START && !scriptsSent.contains(a.taskId())) {
                var s = hub.scripts.get(a.taskId());
                if (s.isPresent()) {
                    scriptsSent.add(a.taskId());
                    frames.add(s.get());
                    fresh.add(a.clock());
                }
            }
        }
        frames.add(new Assignments(0, List.of(), list));
        out.write(frames);
        hub.counters.inc(Counters.Counter.PUSHES);
        long now = hub.clock.millis();
        for (long clock : fresh) {
            if (clock >= since) {
                hub.counters.observeMicros(Counters.Timer.DISPATCH, (now - clock) * 1000);
            }
        }
    }

    private void sendScript(ibex.wire.TaskScript s) throws IOException {
        scriptsSent.add(s.taskId());
        out.write(s);
    }

    private void refuse(int code, String message) {
        try {
            if (out != null && !closed()) {
                out.write(new ErrorReply(code, message));
            }
        } catch (IOException | RuntimeException ignored) {
            // The connection is going away anyway.
        }
    }

    void close() {
        if (closed.compareAndSet(false, true)) {
            try {
                socket.close();
            } catch (IOException ignored) {
                // Nothing left to do for a socket that fails to close.
            }
            hub.admission.closed(ticket);
        }
    }
}
