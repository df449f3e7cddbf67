package ibex.agent;

import ibex.config.AgentConfig;
import ibex.config.HostPort;
import ibex.config.Pem;
import ibex.core.Assignment;
import ibex.core.Log;
import ibex.wire.Assignments;
import ibex.wire.ErrorReply;
import ibex.wire.FrameReader;
import ibex.wire.FrameWriter;
import ibex.wire.Frames;
import ibex.wire.Greeting;
import ibex.wire.Heartbeat;
import ibex.wire.Handshake;
import ibex.wire.Message;
import ibex.wire.ScriptRequest;
import ibex.wire.TaskScript;
import ibex.wire.Welcome;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.net.Socket;
import java.security.KeyPair;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The agent: dials one of its servers (hosts need no open port), keeps that connection, runs what
 * it is assigned and reports until the server acks. Everything it must not forget is in
 * {@link MetaDir}, so a restart neither loses a result nor runs a script twice.
 */
public final class Agent implements AutoCloseable {
    /** Output kept per stream in a report: head and tail of the file, the rest left out. */
    static final int OUTPUT_CAP = 1024 * 1024;
    /** Reports in one heartbeat stay under this many output bytes; the rest go next time. */
    private static final int REPORT_BUDGET = 6 * 1024 * 1024;
    private static final Duration KILL_GRACE = Duration.ofSeconds(5);

    private final AgentConfig config;
    private final String version;
    private final MetaDir meta;
    private final Runner runner;
    private final KeyPair keys;
    private final Dialer dialer;
    private final Semaphore beatNow = new Semaphore(0);
    private final Set<Long> scriptsAsked = new HashSet<>();
    private volatile boolean running = true;
    private volatile Socket socket;
    private volatile FrameWriter out;
    private List<Assignment> assigned = List.of();

    public Agent(AgentConfig config, String version) throws IOException {
        this.config = config;
        this.version = version;
        this.meta = new MetaDir(config.metaDir());
        this.runner = new Runner(meta, f -> beatNow.release(), KILL_GRACE);
        this.keys = Identity.load(config.metaDir());
        var hb = config.heartbeat();
        this.dialer = new Dialer(hb.caFile() == null ? null : Pem.context(hb.certFile(), hb.keyFile(), hb.caFile()));
    }

    /** Runs until {@link #close}: connect, heartbeat, reconnect with backoff. */
    public void run() throws IOException {
        var agentId = meta.agentId();
        recover();
        var servers = config.heartbeat().servers();
        int next = 0;
        long backoff = 1000;
        while (running) {
            var server = servers.get(next % servers.size());
            next++;
            try {
                session(server, agentId);
                backoff = 1000;
            } catch (Refused e) {
                Log.error("agent", "server " + server + " refused this agent: " + e.getMessage());
                backoff = 10_000;
            } catch (IOException e) {
                if (running) {
                    Log.warn("agent", "server " + server + ": " + e.getMessage());
                }
            } finally {
                closeSocket();
            }
            if (running && next % servers.size() == 0) {
                sleep(backoff);
                backoff = Math.min(10_000, backoff * 2);
            }
        }
    }

    /** An ErrorReply from the server: this connection ends and the agent tries again later. */
    private static final class Refused extends IOException {
        Refused(String message) {
            super(message);
        }
    }

    private void session(HostPort server, String agentId) throws IOException {
        var s = dialer.connect(server, 5000);
        socket = s;
        s.setSoTimeout(Frames.HELLO_TIMEOUT_MS);
        var in = new FrameReader(new BufferedInputStream(s.getInputStream(), 16 * 1024), Frames.DEFAULT_MAX);
        out = new FrameWriter(new BufferedOutputStream(s.getOutputStream(), 16 * 1024));
        if (!(in.read() instanceof Greeting g) || g.protocolVersion() != Frames.PROTOCOL_VERSION) {
            out.write(new ErrorReply(ErrorReply.VERSION, "this agent speaks protocol " + Frames.PROTOCOL_VERSION));
            throw new IOException("the server speaks another protocol version");
        }
        var host = HostName.resolve(config.heartbeat().host(), s.getLocalAddress());
        out.write(Handshake.hello(g.nonce(), host, agentId, version, config.heartbeat().token(), keys));
        var reply = in.read();
        if (reply instanceof ErrorReply e) {
            throw new Refused(ErrorReply.codeName(e.code()) + ": " + e.message());
        }
        if (!(reply instanceof Welcome w)) {
            throw new IOException("expected Welcome, got " + reply.getClass().getSimpleName());
        }
        // The server sets the pace; an agent may only beat faster.
        int interval = Math.min(config.heartbeat().intervalMs(), w.heartbeatMs() > 0 ? w.heartbeatMs() : Integer.MAX_VALUE);
        s.setSoTimeout(Frames.MISSED_HEARTBEATS * Math.max(interval, 1000) + 5000);
        synchronized (this) {
            scriptsAsked.clear();
        }
        Log.info("agent", "connected to " + w.server() + " at " + server + " as host " + host);
        var reader = Thread.ofVirtual().name("ibex-agent-reader").start(() -> readLoop(in));
        try {
            long seq = 0;
            while (running && reader.isAlive()) {
                out.write(new Heartbeat(++seq, reports()));
                beatNow.tryAcquire(interval, TimeUnit.MILLISECONDS);
                beatNow.drainPermits();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            closeSocket();
        }
    }

    private void readLoop(FrameReader in) {
        try {
            while (running) {
                Message m = in.read();
                switch (m) {
                    case Assignments a -> assignments(a);
                    case TaskScript t -> script(t);
                    case ErrorReply e -> {
                        Log.warn("agent", "server error " + ErrorReply.codeName(e.code()) + ": " + e.message());
                        return;
                    }
                    default -> {
                        out.write(new ErrorReply(ErrorReply.PROTOCOL, "unexpected " + m.getClass().getSimpleName()));
                        return;
                    }
                }
            }
        } catch (IOException e) {
            if (running) {
                Log.info("agent", "connection lost: " + e.getMessage());
            }
        } catch (RuntimeException e) {
            Log.error("agent", "closing the connection after an internal error", e);
        } finally {
            closeSocket();
            beatNow.release();
        }
    }

    private void assignments(Assignments a) throws IOException {
        for (var ack : a.acks()) {
            meta.forget(ack.taskId(), ack.clock());
        }
        synchronized (this) {
            assigned = a.tasks();
        }
        reconcile();
    }

    private void script(TaskScript t) throws IOException {
        if (!meta.hasScript(t.taskId())) {
            meta.writeScript(t);
        }
        reconcile();
    }

    /** Acts on the current assignments: start what never started, kill what should stop. */
    private synchronized void reconcile() throws IOException {
        for (var a : assigned) {
            long id = a.taskId();
            boolean started = meta.started(id, a.clock());
            switch (Reconcile.decide(a, started, runner.running(id, a.clock()), meta.hasScript(id))) {
                case NOTHING -> { }
                case ASK_SCRIPT -> {
                    if (scriptsAsked.add(id)) {
                        out.write(new ScriptRequest(id));
                    }
                }
                case START -> runner.start(meta.readScript(id).orElseThrow(), a.clock());
                case KILL -> runner.kill(id, a.clock());
                case KILLED_BEFORE_START -> {
                    meta.markStarted(id, a.clock());
                    runner.fail(id, a.clock(), "ibex: killed before it started on this host");
                }
            }
        }
    }

    /** Every finished run not yet acked, within the frame budget. */
    private List<Heartbeat.Report> reports() throws IOException {
        var out = new ArrayList<Heartbeat.Report>();
        long budget = REPORT_BUDGET;
        for (var run : meta.runs()) {
            var done = meta.done(run.taskId(), run.clock());
            if (done.isEmpty()) {
                continue;
            }
            var stdout = Output.read(meta.stdout(run.taskId(), run.clock()), OUTPUT_CAP);
            var stderr = Output.read(meta.stderr(run.taskId(), run.clock()), OUTPUT_CAP);
            budget -= stdout.length() + stderr.length();
            if (budget < 0 && !out.isEmpty()) {
                break;
            }
            out.add(new Heartbeat.Report(run.taskId(), run.clock(), done.get().status(), done.get().exitCode(), stdout, stderr));
        }
        return out;
    }

    /**
     * After a restart: a run that started but has no result was running when the agent died.
     * It is never started again; it is reported failed with the reason.
     */
    private void recover() throws IOException {
        for (var run : meta.runs()) {
            if (meta.done(run.taskId(), run.clock()).isEmpty()) {
                runner.fail(run.taskId(), run.clock(), "ibex: the agent restarted while this script ran; its result is unknown");
            }
        }
    }

    private void closeSocket() {
        var s = socket;
        if (s != null) {
            try {
                s.close();
            } catch (IOException ignored) {
                // Closing a dead connection.
            }
        }
    }

    private void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            running = false;
        }
    }

    @Override
    public void close() {
        running = false;
        closeSocket();
        runner.close();
    }
}
