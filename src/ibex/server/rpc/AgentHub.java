package ibex.server.rpc;

import ibex.core.Assignment;
import ibex.core.Counters;
import ibex.core.HostChange;
import ibex.core.Log;
import ibex.store.ClusterStore;
import ibex.store.DispatchStore;
import ibex.store.GroupCommit;
import ibex.store.PinStore;
import ibex.store.ProgressStore;
import ibex.store.TaskStore;
import ibex.wire.ErrorReply;
import ibex.wire.FrameWriter;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;
import javax.net.ssl.SSLContext;

/**
 * The agent port and the registry of connected agents. Each connected host has one session that
 * holds its current assignments in memory, loaded from the store once when the agent connects and
 * kept up to date by {@link #apply}; heartbeats are answered from that memory, so a heartbeat with
 * nothing to report costs no database query. Changes made by other servers sharing the database
 * arrive through the change log, which {@link LogFollower} reads a few times a second.
 */
public final class AgentHub implements AutoCloseable {
    /**
     * Agent port settings: the heartbeat pace agents are told, the frame limit, the token agents
     * must prove they know (null: none; the server warns at start), and the most connections held
     * at once (see {@link Admission}).
     */
    public record Settings(int heartbeatMs, int maxFrameBytes, String token, int maxConnections) {
        @Override
        public String toString() {
            return "Settings[heartbeatMs=" + heartbeatMs + ", maxFrameBytes=" + maxFrameBytes + (token == null ? "" : ", token set")
                    + ", maxConnections=" + maxConnections + "]";
        }
    }

    private final String serverName;
    private final Settings settings;
    final DispatchStore dispatch;
    final ProgressStore progress;
    final ClusterStore cluster;
    final PinStore pins;
    final Scripts scripts;
    final LongConsumer resultsStored;
    final InstantSource clock;
    final Counters counters;
    /**
     * Results of all connections, written together: each heartbeat's results are one item, and
     * 10,000 agents reporting within a second cost tens of commits, not 10,000.
     */
    final GroupCommit<List<DispatchStore.Result>, List<DispatchStore.Result>> results;
    /** Presence changes of all connections, written together (a reconnect storm is tens of commits). */
    private final GroupCommit<ClusterStore.PresenceChange, Boolean> presence;
    /**
     * Memory for large frames read from agents and not yet handled (results being stored), in KiB:
     * a connection whose next frame does not fit waits, unread, so TCP holds the rest back. Without
     * it, a task whose thousands of hosts report 1 MiB outputs at the same moment could fill the
     * heap. Frames under {@link AgentSession#BUDGETED_FROM} are not counted (a heartbeat is a few dozen
     * bytes; 18,000 agents × 4 KiB is 72 MiB at most).
     */
    final Semaphore largeFrames = new Semaphore(LARGE_FRAMES_KIB);
    static final int LARGE_FRAMES_KIB = 128 * 1024;
    private final Map<String, AgentSession> sessions = new ConcurrentHashMap<>();
    final Admission admission;
    /** Refusals at accept and handshake timeouts come in storms: each is logged at most once per 10 s, with a count. */
    private final Throttle refusalLog = new Throttle();
    final Throttle handshakeTimeoutLog = new Throttle();

    /** Lets a log line through at most once per 10 s. */
    static final class Throttle {
        private static final long EVERY_NANOS = 10_000_000_000L;
        private final AtomicLong last = new AtomicLong(System.nanoTime() - EVERY_NANOS);

        boolean allow() {
            long now = System.nanoTime();
            long then = last.get();
            return now - then >= EVERY_NANOS && last.compareAndSet(then, now);
        }
    }
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    /** Handshake deadlines: one platform thread for every connection's timer. */
    final ScheduledExecutorService timer =
            Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().name("ibex-handshake-timer").daemon().factory());
    private ServerSocket listener;
    /** Watches welcomed plain connections between frames; see {@link ReadLoop}. */
    ReadLoop readLoop;

    /**
     * @param resultsStored called with each task whose results were stored, so the scheduler can
     *                      start the next hosts of a batch or finish the task without waiting for its tick
     */
    public AgentHub(String serverName, Settings settings, DispatchStore dispatch, ProgressStore progress, ClusterStore cluster,
                    PinStore pins, TaskStore tasks, LongConsumer resultsStored, InstantSource clock, Counters counters) {
        this.serverName = serverName;
        this.settings = settings;
        this.dispatch = dispatch;
        this.progress = progress;
        this.cluster = cluster;
        this.pins = pins;
        this.scripts = new Scripts(tasks);
        this.resultsStored = resultsStored;
        this.clock = clock;
        this.counters = counters;
        this.admission = new Admission(settings.maxConnections());
        this.results = new GroupCommit<>(512, perHeartbeat -> {
            var all = new ArrayList<DispatchStore.Result>();
            perHeartbeat.forEach(all::addAll);
            var stored = new HashSet<>(dispatch.record(all));
            return perHeartbeat.stream().map(list -> list.stream().filter(stored::contains).toList()).toList();
        });
        this.presence = new GroupCommit<>(1000, list -> {
            cluster.presence(list);
            return java.util.Collections.nCopies(list.size(), Boolean.TRUE);
        });
    }

    /**
     * Binds the agent port (port 0 = any free port), with TLS when {@code tls} is not null. A plain
     * port is a channel's socket, so its connections have channels the {@link ReadLoop} can watch.
     */
    public static ServerSocket bind(String host, int port, SSLContext tls) throws IOException {
        var socket = tls == null ? ServerSocketChannel.open().socket() : tls.getServerSocketFactory().createServerSocket();
        socket.setReuseAddress(true);
        socket.bind(new InetSocketAddress(host, port), 4096);
        return socket;
    }

    /** Starts accepting agents on a bound socket and following the change log; returns the address. */
    public InetSocketAddress start(ServerSocket bound) {
        listener = bound;
        try {
            readLoop = new ReadLoop(this::submit);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException("opening the agent read loop", e);
        }
        Thread.ofPlatform().name("ibex-agent-accept").daemon().start(this::acceptLoop);
        timer.scheduleWithFixedDelay(this::sweep, 1, 1, java.util.concurrent.TimeUnit.SECONDS);
        var follower = new LogFollower(cluster, serverName, clock, this::reload);
        Thread.ofPlatform().name("ibex-log-follower").daemon().start(() -> follower.run(listener::isClosed));
        return (InetSocketAddress) listener.getLocalSocketAddress();
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            try {
                Socket s = listener.accept();
                switch (admission.admit(s.getInetAddress())) {
                    case Admission.Ticket ticket -> serve(s, ticket);
                    case Admission.Refusal refusal -> refuse(s, refusal.why());
                }
            } catch (IOException e) {
                if (!listener.isClosed()) {
                    // Out of file descriptors, accept fails at once until one is freed: pause
                    // rather than spin a core and fill the log.
                    Log.warn("rpc", "accept failed: " + e.getMessage() + "; pausing the agent port for 100 ms");
                    sleep(100);
                }
            } catch (RuntimeException e) {
                Log.error("rpc", "accept loop", e);
            }
        }
    }

    private void serve(Socket s, Admission.Ticket ticket) {
        try {
            threads.submit(() -> new AgentSession(this, s, ticket).run());
        } catch (RuntimeException e) {
            // Stopping (the executor refuses), or the session could not be made: give its place back.
            admission.closed(ticket);
            try {
                s.close();
            } catch (IOException ignored) {
                // closing anyway
            }
            throw e;
        }
    }

    /**
     * Tells a connection over the limit why it is closed (plain port; a TLS one is just closed,
     * as its handshake could take seconds) and closes it; logs at most once per 10 s, with the count.
     */
    private void refuse(Socket s, String why) {
        counters.inc(Counters.Counter.AGENT_REFUSALS);
        if (refusalLog.allow()) {
            Log.warn("rpc", "refusing agent connections (" + counters.get(Counters.Counter.AGENT_REFUSALS)
                    + " so far, this one from " + s.getInetAddress().getHostAddress() + "): " + why);
        }
        threads.submit(() -> {
            try (s) {
                if (s.getChannel() != null) {
                    s.setSoTimeout(1000);
                    new FrameWriter(s.getOutputStream()).write(new ErrorReply(ErrorReply.BUSY, why));
                }
            } catch (IOException e) {
                // The connection is refused either way.
            }
        });
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    String serverName() {
        return serverName;
    }

    Settings settings() {
        return settings;
    }

    /**
     * Registers a session for its host. The same agent (same agentId) replaces its own stale
     * connection; another agent claiming a connected host is refused with the holder's address.
     * Returns null when registered, else the refusal text.
     */
    String register(AgentSession s) {
        var refusal = new String[1];
        sessions.compute(s.host(), (h, old) -> {
            if (old == null || old.closed()) {
                return s;
            }
            if (old.agentId().equals(s.agentId())) {
                Log.info("rpc", "agent " + h + " reconnected from " + s.remote() + ", closing its old connection from " + old.remote());
                old.close();
                return s;
            }
            refusal[0] = "host '" + h + "' is already connected from " + old.remote()
                    + " (agent " + old.agentId() + "); two agents claim the same Host";
            return old;
        });
        return refusal[0];
    }

    void unregister(AgentSession s) {
        sessions.remove(s.host(), s);
    }

    /** Hands assignment changes to the sessions of connected hosts; others get them on connect. */
    public void apply(List<HostChange> changes) {
        Map<String, List<HostChange>> byHost = new LinkedHashMap<>();
        for (var c : changes) {
            byHost.computeIfAbsent(c.host(), h -> new ArrayList<>()).add(c);
            if (c.assignment().isPresent() && c.assignment().get().kind() == Assignment.Kind.KILL) {
                counters.inc(Counters.Counter.KILLS);
            }
        }
        byHost.forEach((host, list) -> {
            var s = sessions.get(host);
            if (s != null) {
                s.change(list);
            }
        });
    }

    /** Reloads, from the store, the assignments of those hosts that are connected here. */
    private void reload(Set<String> hosts) {
        var here = new ArrayList<String>();
        for (var h : hosts) {
            if (sessions.containsKey(h)) {
                here.add(h);
            }
        }
        for (int i = 0; i < here.size(); i += 500) {
            var batch = here.subList(i, Math.min(here.size(), i + 500));
            dispatch.assignments(batch).forEach((host, list) -> {
                var s = sessions.get(host);
                if (s != null) {
                    s.replace(list);
                }
            });
        }
    }

    /** Records in the store that a host's agent is here (best effort: the database may be down). */
    void present(AgentSession s, boolean connected) {
        if (listener == null || (listener.isClosed() && !connected)) {
            // Stopping: the store may be closed; other servers see this server's health go stale.
            return;
        }
        // Not waited for: many agents connecting at once share one transaction.
        presence.submit(new ClusterStore.PresenceChange(s.host(), serverName, connected, s.agentId(), s.remote(),
                clock.millis())).exceptionally(e -> {
                    // A change still queued when the server stops fails on the closed store: one line
                    // per agent of a fleet that just dropped would flood the log, and says nothing new.
                    if (!listener.isClosed()) {
                        Log.warn("rpc", "agent " + s.host() + ": presence not recorded: " + e.getMessage());
                    }
                    return null;
                });
    }

    /** Counts the results one heartbeat stored: results, their output bytes, timeouts. */
    void countStored(List<DispatchStore.Result> stored) {
        counters.add(Counters.Counter.RESULTS_STORED, stored.size());
        long bytes = 0;
        for (var r : stored) {
            bytes += utf8Length(r.stdout()) + utf8Length(r.stderr());
            if (r.status() == ibex.core.HostStatus.TIMEOUT) {
                counters.inc(Counters.Counter.TIMEOUTS);
            }
        }
        counters.add(Counters.Counter.OUTPUT_BYTES, bytes);
    }

    private static long utf8Length(String s) {
        long n = s.length();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c >= 0x80) {
                n += c < 0x800 || Character.isSurrogate(c) ? 1 : 2;
            }
        }
        return n;
    }

    /** Closes connections silent for longer than their limit: one pass a second over all of them. */
    private void sweep() {
        try {
            long now = System.nanoTime();
            for (var s : sessions.values()) {
                s.closeIfSilent(now);
            }
        } catch (RuntimeException e) {
            Log.error("rpc", "liveness sweep", e);
        }
    }

    /** Connections held now, handshaking or welcomed. */
    public int connectionsOpen() {
        return admission.open();
    }

    public int maxConnections() {
        return admission.max();
    }

    /** Agents connected now. */
    public int connected() {
        return sessions.size();
    }

    void submit(Runnable r) {
        threads.submit(r);
    }

    @Override
    public void close() {
        try {
            if (listener != null) {
                listener.close();
            }
        } catch (IOException e) {
            Log.warn("rpc", "closing the agent port: " + e.getMessage());
        }
        sessions.values().forEach(AgentSession::close);
        if (readLoop != null) {
            readLoop.close();
        }
        timer.shutdownNow();
        threads.shutdownNow();
    }
}
