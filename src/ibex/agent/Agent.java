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
import ibex.wire.LiveText;
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
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

/**
 * The agent: dials one of its servers (hosts need no open port), keeps that connection, runs what
 * it is assigned and reports until the server acks. Everything it must not forget is in
 * {@link MetaDir}, so a restart neither loses a result nor runs a script twice.
 */
public final class Agent implements AutoCloseable {
    /** Results in one heartbeat stay under this many bytes of output (one always goes); the rest go next time. */
    private static final long RESULT_BUDGET = 6L * 1024 * 1024;
    /** Live output in one heartbeat: about this many bytes, less what results took beyond their budget. */
    private static final long LIVE_BUDGET = 4L * 1024 * 1024;
    /** How often MetaDir is tidied while connected. */
    private static final Duration TIDY_EVERY = Duration.ofMinutes(10);

    private final AgentConfig config;
    private final String version;
    private final MetaDir meta;
    private final Runner runner;
    private final KeyPair keys;
    private final Dialer dialer;
    private final Semaphore beatNow = new Semaphore(0);
    private final Set<Long> scriptsAsked = new HashSet<>();
    /**
     * The assignment acted on last, by task, on this connection. Every list repeats the whole
     * assignment set and a burst of starts brings one list per start: only what changed is looked
     * at, else each list cost a look at every assignment's files (BENCHMARKS.md P5).
     */
    private final Map<Long, Assignment> handled = new HashMap<>();
    /**
     * The inputs of the tasks assigned, from their scripts as they arrived; a task that is not here
     * has its script asked for (after a restart too: MetaDir keeps only what a started run needs).
     */
    private final Map<Long, MetaDir.Inputs> inputs = new HashMap<>();
    /**
     * Results written and not yet acked, the ones each heartbeat reports: read from MetaDir at
     * start (results of runs that ended while no agent ran), then added as runs end and removed
     * by acks, so a heartbeat does not walk the journal.
     */
    private final Map<Runner.Key, MetaDir.Done> unacked = new ConcurrentSkipListMap<>();
    /**
     * Results on their way on this connection: the seq of the heartbeat that carried each. One
     * goes again only after the reply to that heartbeat came without its ack (the server acks what
     * it stored; a reply without the ack means its store refused the write), however slow the
     * server is; a new connection sends every unacked result. A result used to go in every
     * heartbeat until its ack came, and each run's end brings a heartbeat: 1,000 runs given
     * together were reported 2,267 times, each read from its files again and written again by the
     * server (an UPDATE that changed nothing).
     */
    private final Map<Runner.Key, Long> inFlight = new ConcurrentHashMap<>();
    private volatile boolean running = true;
    private volatile Socket socket;
    private volatile FrameWriter out;
    private List<Assignment> assigned = List.of();
    private boolean assignedKnown;
    private long lastTidy;

    public Agent(AgentConfig config, String version) throws IOException {
        this.config = config;
        this.version = version;
        this.meta = new MetaDir(config.metaDir());
        this.runner = new Runner(meta, Spawner::best, f -> {
            unacked.put(new Runner.Key(f.taskId(), f.clock()), f.done());
            beatNow.release();
        }, Duration.ofMillis(config.task().killGraceMs()), InstantSource.system());
        this.keys = Identity.load(config.metaDir());
        var hb = config.heartbeat();
        this.dialer = new Dialer(hb.caFile() == null ? null : Pem.context(hb.certFile(), hb.keyFile(), hb.caFile()));
    }

    /** Runs until {@link #close}: connect, heartbeat, reconnect with backoff. */
    public void run() throws IOException {
        var agentId = meta.agentId();
        if (!config.heartbeat().host().equals("$ip")) {
            // Fails now, with the reason, rather than on every connection.
            HostName.resolve(config.heartbeat().host(), null);
        }
        runner.recover();
        for (var run : meta.runs()) {
            meta.run(run.taskId(), run.clock()).flatMap(MetaDir.Run::done)
                    .ifPresent(d -> unacked.put(new Runner.Key(run.taskId(), run.clock()), d));
        }
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
                // BUSY passes by itself; any other refusal needs a person (token, version, host name).
                if (e.code == ErrorReply.BUSY) {
                    Log.warn("agent", "server " + server + " is full for now: " + e.getMessage());
                } else {
                    Log.error("agent", "server " + server + " refused this agent: " + e.getMessage());
                }
                backoff = 10_000;
            } catch (IOException e) {
                if (running) {
                    Log.warn("agent", "server " + server + ": " + e.getMessage());
                }
            } finally {
                closeSocket();
            }
            if (running && next % servers.size() == 0) {
                // Jittered: a fleet that lost its server at one moment must not come back in step.
                sleep(backoff / 2 + java.util.concurrent.ThreadLocalRandom.current().nextLong(backoff / 2 + 1));
                backoff = Math.min(10_000, backoff * 2);
            }
        }
    }

    /** An ErrorReply from the server: this connection ends and the agent tries again later. */
    private static final class Refused extends IOException {
        final int code;

        Refused(ErrorReply e) {
            super(ErrorReply.codeName(e.code()) + ": " + e.message());
            this.code = e.code();
        }
    }

    private void session(HostPort server, String agentId) throws IOException {
        var s = dialer.connect(server, 5000);
        socket = s;
        s.setSoTimeout(Frames.HELLO_TIMEOUT_MS);
        var in = new FrameReader(new BufferedInputStream(s.getInputStream(), 16 * 1024), Frames.DEFAULT_MAX);
        out = new FrameWriter(new BufferedOutputStream(s.getOutputStream(), 16 * 1024));
        var first = in.read();
        if (first instanceof ErrorReply e) {
            throw new Refused(e);       // e.g. BUSY: the server is full
        }
        if (!(first instanceof Greeting g) || g.protocolVersion() != Frames.PROTOCOL_VERSION) {
            out.write(new ErrorReply(ErrorReply.VERSION, "this agent speaks protocol " + Frames.PROTOCOL_VERSION));
            throw new IOException("the server speaks another protocol version");
        }
        var host = HostName.resolve(config.heartbeat().host(), s.getLocalAddress());
        out.write(Handshake.hello(g.nonce(), host, agentId, version, config.heartbeat().token(), keys));
        var reply = in.read();
        if (reply instanceof ErrorReply e) {
            throw new Refused(e);
        }
        if (!(reply instanceof Welcome w)) {
            throw new IOException("expected Welcome, got " + reply.getClass().getSimpleName());
        }
        // The server sets the pace; an agent may only beat faster.
        int interval = Math.min(config.heartbeat().intervalMs(), w.heartbeatMs() > 0 ? w.heartbeatMs() : Integer.MAX_VALUE);
        s.setSoTimeout(Frames.deadAfterMs(interval));
        synchronized (this) {
            scriptsAsked.clear();
            handled.clear();
            inFlight.clear();
            assignedKnown = false;
        }
        var live = new Live(config.task().outputCap());
        Log.info("agent", "connected to " + w.server() + " at " + server + " as host " + host);
        // A platform thread: an agent holds one connection, and a blocking read on a platform thread
        // is one system call, where a virtual thread's read went through the poller, a carrier and
        // the timer thread, about ten context switches per heartbeat (BENCHMARKS.md P4).
        var reader = Thread.ofPlatform().daemon().name("ibex-agent-reader").start(() -> readLoop(in));
        try {
            long seq = 0;
            while (running && reader.isAlive()) {
                seq++;
                out.write(new Heartbeat(seq, reports(live, seq)));
                tidy();
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

    /**
     * Starts and kills first; forgetting acked results (file removals) can wait for that. A task
     * still assigned, or with a run of it starting or going, keeps its directory: a redo's start may
     * be creating its log there right now (the list that acks one run can start the next).
     */
    private void assignments(Assignments a) throws IOException {
        var ids = new HashSet<Long>();
        a.tasks().forEach(t -> ids.add(t.taskId()));
        synchronized (this) {
            assigned = a.tasks();
            assignedKnown = true;
            handled.keySet().retainAll(ids);
            inputs.keySet().retainAll(ids);
        }
        reconcile();
        for (var ack : a.acks()) {
            if (!runner.running(ack.taskId(), ack.clock())) {
                unacked.remove(new Runner.Key(ack.taskId(), ack.clock()));
                meta.forget(ack.taskId(), ack.clock(), ids.contains(ack.taskId()) || runner.hasRunOf(ack.taskId()));
            }
        }
        if (a.ackSeq() > 0 && !inFlight.isEmpty()) {   // empty at nearly every heartbeat of an idle agent
            // The reply to heartbeat ackSeq: what it and earlier ones carried and was not acked was
            // refused by the server's store, and goes with the next heartbeat.
            long replied = a.ackSeq();
            inFlight.values().removeIf(seq -> seq <= replied);
        }
    }

    private void script(TaskScript t) throws IOException {
        synchronized (this) {
            if (!inputs.containsKey(t.taskId())) {
                inputs.put(t.taskId(), meta.writeScript(t));
            }
        }
        reconcile();
    }

    /**
     * Acts on the current assignments not acted on yet: start what never started, kill what should
     * stop. Starts return at once ({@link Runner#start}), so the runs of one list start side by side.
     */
    private synchronized void reconcile() throws IOException {
        for (var a : assigned) {
            long id = a.taskId();
            var last = handled.get(id);
            if (last != null && last.clock() == a.clock() && last.kind() == a.kind()) {
                continue;
            }
            boolean running = runner.running(id, a.clock());
            boolean started = running || meta.started(id, a.clock());
            var decision = Reconcile.decide(a, started, running, inputs.containsKey(id));
            switch (decision) {
                case NOTHING -> { }
                case ASK_SCRIPT -> {
                    if (scriptsAsked.add(id)) {
                        out.write(new ScriptRequest(id));
                    }
                }
                case START -> runner.start(inputs.get(id), a.clock());
                case KILL -> runner.kill(id, a.clock());
                case KILLED_BEFORE_START -> {
                    try {
                        meta.markStarted(id, a.clock(), System.currentTimeMillis(), 0);
                        runner.fail(id, a.clock(), "ibex: killed before it started on this host");
                    } catch (IOException e) {
                        // The journal cannot be written (a full disk): tried again with the next list,
                        // from nothing (a log left half-made would read as a run started before).
                        // Ending the connection over it would only bring the same list back.
                        Log.error("agent", "task " + id + " clock " + a.clock() + ": cannot record its kill before it started", e);
                        try {
                            meta.forget(id, a.clock(), true);
                        } catch (IOException again) {
                            Log.error("agent", "task " + id + " clock " + a.clock() + ": cannot remove its half-made log", again);
                        }
                        continue;
                    }
                }
            }
            // Until its script is here, a start is looked at again with every list and script.
            if (decision != Reconcile.Decision.ASK_SCRIPT) {
                handled.put(id, a);
            }
        }
    }

    /**
     * Every result not yet acked and not on its way ({@link #inFlight}; within the budget, the rest
     * go next time), then live output of the runs still going. A run is reported from its files, so
     * a result that was written while the agent, the network or the server was down goes out on the
     * next connection, until acked.
     */
    private List<Heartbeat.Report> reports(Live live, long seq) throws IOException {
        var out = new ArrayList<Heartbeat.Report>();
        int cap = config.task().outputCap();
        long used = 0;
        for (var e : unacked.entrySet()) {
            var run = e.getKey();
            var done = e.getValue();
            if (inFlight.containsKey(run)) {
                continue;
            }
            String stdout;
            String stderr;
            try {
                stdout = Output.read(meta.stdout(run.taskId(), run.clock()), cap);
                stderr = Output.read(meta.stderr(run.taskId(), run.clock()), cap);
            } catch (java.nio.file.NoSuchFileException gone) {
                continue;   // acked and forgotten while this heartbeat was put together
            }
            long size = LiveText.utf8Length(stdout) + LiveText.utf8Length(stderr);
            if (used + size > RESULT_BUDGET && !out.isEmpty()) {
                break;
            }
            used += size;
            out.add(new Heartbeat.Report(run.taskId(), run.clock(), done.status(), done.exitCode(), stdout, stderr));
            inFlight.put(run, seq);
        }
        out.addAll(live.next(runner.runningKeys(), meta, LIVE_BUDGET - Math.max(0, used - RESULT_BUDGET)));
        return out;
    }

    /** Now and then, while the assignments are known: removes task directories nobody needs. */
    private void tidy() {
        long now = System.currentTimeMillis();
        Set<Long> keep = new HashSet<>();
        synchronized (this) {
            if (!assignedKnown || now - lastTidy < TIDY_EVERY.toMillis()) {
                return;
            }
            lastTidy = now;
            assigned.forEach(a -> keep.add(a.taskId()));
        }
        runner.runningKeys().forEach(k -> keep.add(k.taskId()));
        try {
            int removed = meta.tidy(keep, Duration.ofHours(config.task().keepHours()), java.time.Instant.ofEpochMilli(now));
            if (removed > 0) {
                Log.info("agent", "removed " + removed + " old task director" + (removed == 1 ? "y" : "ies") + " from MetaDir");
            }
        } catch (IOException e) {
            Log.warn("agent", "tidying MetaDir: " + e.getMessage());
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
