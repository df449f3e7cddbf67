package bench;

import ibex.core.Assignment;
import ibex.core.HostStatus;
import ibex.wire.Assignments;
import ibex.wire.Codec;
import ibex.wire.ErrorReply;
import ibex.wire.Greeting;
import ibex.wire.Heartbeat;
import ibex.wire.Hello;
import ibex.wire.Message;
import ibex.wire.ScriptRequest;
import ibex.wire.TaskScript;
import ibex.wire.Welcome;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Many simulated agents in one process, speaking the real protocol through ibex.wire's codec:
 * Greeting → Hello → Welcome, then Heartbeat every interval (fixed rate, random phase), answered
 * by Assignments; pushed TaskScript and Assignments are handled like the agent does (a START it
 * has not run is "run" and reported as success after --run-ms; a KILL is reported killed; a START
 * without its script gets a ScriptRequest). Results go out in an immediate heartbeat and, like the
 * agent's, again only after a reply came without their ack, or on a new connection. One selector
 * thread: the load generator must cost little next to the server on a 2-core machine.
 *
 * <pre>
 * usage: AgentSim --server HOST:PORT --prefix P --count N [--source 127.N] [--interval MS] [--connect-rate PER_S] [--run-ms MS]
 * stdin: "reset" (start a window), "stats" (print STATS of the window), "interval MS", "tasks" (print TASK
 *        lines), "quit"; stdout: "READY n ms=… errors=…" once n agents are welcomed, then answers.
 * </pre>
 */
final class AgentSim {
    private static final long NANOS_PER_MS = 1_000_000L;

    /** One run of one task on one simulated host. */
    private static final class Run {
        final long taskId;
        final long clock;
        long doneAtNanos;
        HostStatus result;
        boolean acked;
        /** The heartbeat that carries the result until its reply comes; 0 when none does. */
        long inFlightSeq;

        Run(long taskId, long clock) {
            this.taskId = taskId;
            this.clock = clock;
        }
    }

    /** What this process saw of one task across its hosts. */
    private static final class TaskStat {
        long assigned;
        long firstAssignMs = Long.MAX_VALUE;
        long lastAssignMs;
        long reported;
        long firstReportMs = Long.MAX_VALUE;
        long lastReportMs;
        long acked;
        long lastAckMs;
        final Hist reportToAck = new Hist();
    }

    private final class Conn {
        final String host;
        /** The loopback address this agent connects from; null for the system's choice. */
        final InetSocketAddress source;
        SocketChannel ch;
        /** Bytes of an incomplete frame carried over to the next read; null when none. */
        byte[] partial;
        final ArrayDeque<ByteBuffer> pending = new ArrayDeque<>();
        boolean live;
        boolean dead;
        long seq;
        /** Counts the connection's openings: a beat scheduled for an earlier one is dropped. */
        int life;
        final long[] sentSeq = new long[16];
        final long[] sentAt = new long[16];
        final Map<Long, Run> runs = new HashMap<>();
        final Set<Long> scripts = new HashSet<>();
        final Map<Long, Long> reportedAt = new HashMap<>();
        /** Consecutive failed connections; the backoff grows with it, like the agent's. */
        int failures;
        long retryAt;

        Conn(String host, InetSocketAddress source) {
            this.host = host;
            this.source = source;
        }
    }

    private final InetSocketAddress server;
    private final String prefix;
    /**
     * The first two octets of the loopback addresses the agents connect from (127.N), one address
     * per agent, or null. From one address to one server port, Linux finds each connection's
     * ephemeral port by a search that grows with the connections already open (with 18,000 it
     * held the simulator in connect() for seconds, which the server rightly took for agents
     * that never said Hello); a fleet comes from many addresses anyway.
     */
    private final String source;
    private final int count;
    private long intervalNanos;
    private final int connectRate;
    private final long runNanos;
    private final Selector selector;
    private final List<Conn> conns = new ArrayList<>();
    /**
     * One scheduled heartbeat. Entries are immutable: a connection that reconnected has a stale
     * entry besides its new one, and a key changed inside the queue would break its order.
     */
    private record Due(long at, Conn conn, int life) {
    }

    private final PriorityQueue<Due> beats = new PriorityQueue<>((a, b) -> Long.compare(a.at(), b.at()));
    private final PriorityQueue<Object[]> completions = new PriorityQueue<>((a, b) -> Long.compare(((Run) a[1]).doneAtNanos, ((Run) b[1]).doneAtNanos));
    private final ConcurrentLinkedQueue<String> commands = new ConcurrentLinkedQueue<>();
    private final Map<Long, TaskStat> tasks = new TreeMap<>();
    private final Hist rtt = new Hist();
    /** How late each heartbeat left against its schedule: the simulator's own stalls, apart from the server's. */
    private final Hist lag = new Hist();
    private static final int READ_BUFFER = 64 * 1024;
    private ByteBuffer rbuf = ByteBuffer.allocate(READ_BUFFER);
    private long windowStart;
    private long sent;
    private long replies;
    private long lost;
    private long errors;
    private long closed;
    private long pushes;
    private long welcomed;
    private long liveNow;
    private long reconnects;
    private boolean quitting;
    private final PriorityQueue<Conn> retries = new PriorityQueue<>((a, b) -> Long.compare(a.retryAt, b.retryAt));
    private boolean readyPrinted;
    private String lastError = "";

    private AgentSim(InetSocketAddress server, String prefix, String source, int count, int intervalMs, int connectRate, int runMs)
            throws IOException {
        this.server = server;
        this.prefix = prefix;
        this.source = source;
        this.count = count;
        this.intervalNanos = intervalMs * NANOS_PER_MS;
        this.connectRate = connectRate;
        this.runNanos = runMs * NANOS_PER_MS;
        this.selector = Selector.open();
    }

    public static void main(String[] args) throws IOException {
        Map<String, String> a = new HashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        }
        var hp = a.getOrDefault("server", "127.0.0.1:20090").split(":");
        var sim = new AgentSim(new InetSocketAddress(hp[0], Integer.parseInt(hp[1])), a.getOrDefault("prefix", "sim-"), a.get("source"),
                Integer.parseInt(a.getOrDefault("count", "100")), Integer.parseInt(a.getOrDefault("interval", "1000")),
                Integer.parseInt(a.getOrDefault("connect-rate", "3000")), Integer.parseInt(a.getOrDefault("run-ms", "0")));
        Thread.ofPlatform().daemon().name("stdin").start(sim::readCommands);
        sim.loop();
    }

    private void readCommands() {
        try (var r = new BufferedReader(new InputStreamReader(System.in))) {
            String line;
            while ((line = r.readLine()) != null) {
                commands.add(line.strip());
                selector.wakeup();
            }
        } catch (IOException e) {
            // stdin gone: quit below
        }
        commands.add("quit");
        selector.wakeup();
    }

    private void loop() throws IOException {
        long started = System.nanoTime();
        int opened = 0;
        windowStart = started;
        while (true) {
            long now = System.nanoTime();
            long allowed = Math.min(count, (now - started) * connectRate / 1_000_000_000L + 1);
            while (opened < allowed) {
                var c = new Conn(prefix + opened, source == null ? null
                        : new InetSocketAddress(source + "." + (opened / 250) + "." + (opened % 250 + 1), 0));
                conns.add(c);
                open(c);
                opened++;
            }
            // Beats due within the next millisecond go now: select() sleeps in whole milliseconds,
            // and polling with selectNow() until the exact nanosecond burned a core.
            while (!beats.isEmpty() && beats.peek().at() <= now + NANOS_PER_MS) {
                var due = beats.poll();
                var c = due.conn();
                if (c.dead || due.life() != c.life) {
                    continue;   // a beat of a connection that has since closed (and maybe reopened)
                }
                if (now >= windowStart) {
                    lag.record((now - due.at()) / 1000);
                }
                beat(c, now);
                long next = due.at() + intervalNanos;
                if (next < now - intervalNanos) {
                    next = now + intervalNanos;    // fell far behind: skip, do not burst
                }
                beats.add(new Due(next, c, c.life));
            }
            while (!completions.isEmpty() && ((Run) completions.peek()[1]).doneAtNanos <= now) {
                var item = completions.poll();
                var c = (Conn) item[0];
                var run = (Run) item[1];
                if (run.result == null && !c.dead) {
                    run.result = HostStatus.SUCCESS;
                    reported(c, run);
                    beat(c, now);
                }
            }
            String cmd;
            while ((cmd = commands.poll()) != null) {
                if (!command(cmd)) {
                    for (var c : conns) {
                        close(c);
                    }
                    System.out.flush();
                    return;
                }
            }
            while (!retries.isEmpty() && retries.peek().retryAt <= now) {
                var c = retries.poll();
                reconnects++;
                try {
                    open(c);
                } catch (IOException e) {
                    fail(c, e);
                }
            }
            if (!readyPrinted && liveNow >= count) {
                readyPrinted = true;
                System.out.println("READY " + liveNow + " ms=" + (now - started) / NANOS_PER_MS + " errors=" + errors + " lastError="
                        + lastError.replace(' ', '_'));
                System.out.flush();
            }
            long next = Long.MAX_VALUE;
            if (!beats.isEmpty()) {
                next = beats.peek().at();
            }
            if (!completions.isEmpty()) {
                next = Math.min(next, ((Run) completions.peek()[1]).doneAtNanos);
            }
            if (opened < count) {
                next = Math.min(next, now + NANOS_PER_MS);
            }
            long waitMs = next == Long.MAX_VALUE ? 100 : Math.max(1, (next - System.nanoTime()) / NANOS_PER_MS);
            selector.select(waitMs);
            var keys = selector.selectedKeys();
            for (var key : keys) {
                var c = (Conn) key.attachment();
                try {
                    if (!key.isValid()) {
                        continue;
                    }
                    if (key.isConnectable()) {
                        c.ch.finishConnect();
                        key.interestOps(SelectionKey.OP_READ);
                    }
                    if (key.isValid() && key.isReadable()) {
                        read(c);
                    }
                    if (key.isValid() && key.isWritable()) {
                        drain(c);
                    }
                } catch (IOException | RuntimeException e) {
                    fail(c, e);
                }
            }
            keys.clear();
        }
    }

    private void open(Conn c) throws IOException {
        c.life++;
        c.dead = false;
        c.live = false;
        c.partial = null;
        c.pending.clear();
        c.seq = 0;
        java.util.Arrays.fill(c.sentSeq, 0);
        c.runs.values().forEach(run -> run.inFlightSeq = 0);   // a new connection sends every unacked result
        c.ch = SocketChannel.open();
        c.ch.configureBlocking(false);
        c.ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
        if (c.source != null) {
            c.ch.bind(c.source);
        }
        c.ch.connect(server);
        c.ch.register(selector, SelectionKey.OP_CONNECT, c);
    }

    /** A connection failed: count it, close it, and dial again after a backoff, as the agent does. */
    private void fail(Conn c, Exception e) {
        if (c.dead) {
            return;
        }
        errors++;
        lastError = c.host + ": " + e;
        close(c);
        if (!quitting) {
            c.failures++;
            long backoff = Math.min(10_000, 1000L << Math.min(4, c.failures - 1));
            c.retryAt = System.nanoTime() + (backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1)) * NANOS_PER_MS;
            retries.add(c);
        }
    }

    private void close(Conn c) {
        if (!c.dead) {
            c.dead = true;
            closed++;
            if (c.live) {
                c.live = false;
                liveNow--;
            }
            try {
                c.ch.close();
            } catch (IOException ignored) {
                // closing
            }
        }
    }

    /**
     * One read per readiness event into a shared buffer, then every whole frame in it; the tail of
     * an incomplete frame waits in the connection. (Reading a frame's 4-byte head and its body
     * separately cost three system calls per heartbeat reply, which showed in the simulator's CPU.)
     */
    private void read(Conn c) throws IOException {
        rbuf.clear();
        if (c.partial != null) {
            if (c.partial.length > rbuf.capacity() / 2) {
                rbuf = ByteBuffer.allocate(c.partial.length * 2 + 4096);
            }
            rbuf.put(c.partial);
            c.partial = null;
        }
        int n = c.ch.read(rbuf);
        if (n < 0) {
            throw new IOException("server closed the connection");
        }
        rbuf.flip();
        byte[] a = rbuf.array();
        while (rbuf.remaining() >= 4) {
            int at = rbuf.position();
            int len = rbuf.getInt(at);
            if (len < 1 || len > 64 * 1024 * 1024) {
                throw new IOException("bad frame length " + len);
            }
            if (rbuf.remaining() < 4 + len) {
                break;
            }
            byte[] body = java.util.Arrays.copyOfRange(a, at + 5, at + 4 + len);
            rbuf.position(at + 4 + len);
            handle(c, Codec.decode(a[at + 4] & 0xFF, body));
        }
        if (rbuf.hasRemaining()) {
            c.partial = java.util.Arrays.copyOfRange(a, rbuf.position(), rbuf.limit());
        }
        if (rbuf.capacity() > READ_BUFFER) {
            rbuf = ByteBuffer.allocate(READ_BUFFER);
        }
    }

    private void handle(Conn c, Message m) throws IOException {
        switch (m) {
            case Greeting g -> send(c, Hello.unauthenticated(c.host, "sim-" + c.host, "bench-sim"));
            case Welcome w -> {
                c.live = true;
                c.failures = 0;
                welcomed++;
                liveNow++;
                beats.add(new Due(System.nanoTime() + ThreadLocalRandom.current().nextLong(intervalNanos), c, c.life));
            }
            case Assignments a -> assignments(c, a);
            case TaskScript t -> c.scripts.add(t.taskId());
            case ErrorReply e -> throw new IOException("ErrorReply " + ErrorReply.codeName(e.code()) + ": " + e.message());
            default -> throw new IOException("unexpected " + m.getClass().getSimpleName());
        }
    }

    private void assignments(Conn c, Assignments a) throws IOException {
        long now = System.nanoTime();
        if (a.ackSeq() == 0) {
            pushes++;
        } else {
            int slot = (int) (a.ackSeq() & 15);
            if (c.sentSeq[slot] == a.ackSeq()) {
                if (c.sentAt[slot] >= windowStart) {
                    replies++;
                    rtt.record((now - c.sentAt[slot]) / 1000);
                }
                c.sentSeq[slot] = 0;
            }
            for (int i = 0; i < 16; i++) {
                if (c.sentSeq[i] != 0 && c.sentSeq[i] < a.ackSeq()) {
                    if (c.sentAt[i] >= windowStart) {
                        lost++;
                    }
                    c.sentSeq[i] = 0;
                }
            }
        }
        long ms = System.currentTimeMillis();
        if (a.ackSeq() != 0) {
            // As the agent: a result goes again only after a reply came without its ack.
            for (var run : c.runs.values()) {
                if (run.inFlightSeq != 0 && run.inFlightSeq <= a.ackSeq()) {
                    run.inFlightSeq = 0;
                }
            }
        }
        for (var ack : a.acks()) {
            var run = c.runs.get(ack.taskId());
            if (run != null && run.clock == ack.clock() && !run.acked) {
                run.acked = true;
                var st = stat(run.taskId);
                st.acked++;
                st.lastAckMs = Math.max(st.lastAckMs, ms);
                Long at = c.reportedAt.remove(run.taskId);
                if (at != null) {
                    st.reportToAck.record((now - at) / 1000);
                }
            }
        }
        for (var t : a.tasks()) {
            var run = c.runs.get(t.taskId());
            if (t.kind() == Assignment.Kind.START) {
                if (run != null && run.clock == t.clock()) {
                    continue;
                }
                run = new Run(t.taskId(), t.clock());
                c.runs.put(t.taskId(), run);
                var st = stat(t.taskId());
                st.assigned++;
                st.firstAssignMs = Math.min(st.firstAssignMs, ms);
                st.lastAssignMs = Math.max(st.lastAssignMs, ms);
                if (!c.scripts.contains(t.taskId())) {
                    send(c, new ScriptRequest(t.taskId()));
                }
                run.doneAtNanos = now + runNanos;
                completions.add(new Object[] {c, run});
            } else if (run != null && run.clock == t.clock() && run.result == null) {
                run.result = HostStatus.KILLED;
                reported(c, run);
                beat(c, now);
            }
        }
    }

    private void reported(Conn c, Run run) {
        var st = stat(run.taskId);
        long ms = System.currentTimeMillis();
        st.reported++;
        st.firstReportMs = Math.min(st.firstReportMs, ms);
        st.lastReportMs = Math.max(st.lastReportMs, ms);
        c.reportedAt.put(run.taskId, System.nanoTime());
    }

    private TaskStat stat(long taskId) {
        return tasks.computeIfAbsent(taskId, k -> new TaskStat());
    }

    private void beat(Conn c, long now) {
        if (!c.live || c.dead) {
            return;
        }
        long s = ++c.seq;
        List<Heartbeat.Report> reports = List.of();
        for (var run : c.runs.values()) {
            if (run.result != null && !run.acked && run.inFlightSeq == 0) {
                if (reports.isEmpty()) {
                    reports = new ArrayList<>();
                }
                run.inFlightSeq = s;
                reports.add(new Heartbeat.Report(run.taskId, run.clock, run.result, run.result == HostStatus.SUCCESS ? 0 : -1,
                        "ok\n", ""));
            }
        }
        int slot = (int) (s & 15);
        c.sentSeq[slot] = s;
        // The round trip starts when this heartbeat is written, not when the loop began the batch it is
        // in: a batch of beats due together takes time to write, and that time is the simulator's.
        var frame = new Heartbeat(s, reports);
        c.sentAt[slot] = System.nanoTime();
        if (now >= windowStart) {
            sent++;
        }
        try {
            send(c, frame);
        } catch (IOException e) {
            fail(c, e);
        }
    }

    private void send(Conn c, Message m) throws IOException {
        var buf = ByteBuffer.wrap(Codec.encode(m));
        if (c.pending.isEmpty()) {
            c.ch.write(buf);
            if (!buf.hasRemaining()) {
                return;
            }
            c.ch.keyFor(selector).interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
        }
        c.pending.add(buf);
    }

    private void drain(Conn c) throws IOException {
        while (!c.pending.isEmpty()) {
            var buf = c.pending.peek();
            c.ch.write(buf);
            if (buf.hasRemaining()) {
                return;
            }
            c.pending.poll();
        }
        c.ch.keyFor(selector).interestOps(SelectionKey.OP_READ);
    }

    /** Runs one control command; false means quit. */
    private boolean command(String cmd) {
        var parts = cmd.split(" ");
        switch (parts[0]) {
            case "reset" -> {
                windowStart = System.nanoTime();
                sent = replies = lost = errors = reconnects = 0;
                lastError = "";
                rtt.clear();
                lag.clear();
            }
            case "stats" -> {
                long now = System.nanoTime();
                long late = 0;
                int live = 0;
                for (var c : conns) {
                    if (c.live && !c.dead) {
                        live++;
                    }
                    for (int i = 0; i < 16; i++) {
                        if (c.sentSeq[i] != 0 && c.sentAt[i] >= windowStart && now - c.sentAt[i] > 5_000 * NANOS_PER_MS) {
                            late++;
                        }
                    }
                }
                System.out.println("STATS conns=" + conns.size() + " live=" + live + " welcomed=" + welcomed + " sent=" + sent
                        + " replies=" + replies + " lost=" + lost + " late=" + late + " errors=" + errors + " closed=" + closed
                        + " pushes=" + pushes + " reconnects=" + reconnects + " windowMs=" + (now - windowStart) / NANOS_PER_MS + " rtt=" + rtt.encode() + " lag=" + lag.encode()
                        + " lastError=" + lastError.replace(' ', '_'));
            }
            case "interval" -> {
                intervalNanos = Long.parseLong(parts[1]) * NANOS_PER_MS;
                long now = System.nanoTime();
                beats.clear();
                for (var c : conns) {
                    if (c.live && !c.dead) {
                        beats.add(new Due(now + ThreadLocalRandom.current().nextLong(intervalNanos), c, c.life));
                    }
                }
            }
            case "tasks" -> {
                tasks.forEach((id, st) -> System.out.println("TASK " + id + " assigned=" + st.assigned + " firstAssign="
                        + st.firstAssignMs + " lastAssign=" + st.lastAssignMs + " reported=" + st.reported + " firstReport="
                        + st.firstReportMs + " lastReport=" + st.lastReportMs + " acked=" + st.acked + " lastAck=" + st.lastAckMs
                        + " ack=" + st.reportToAck.encode()));
                System.out.println("TASKS-END");
            }
            case "quit" -> {
                quitting = true;
                return false;
            }
            default -> System.out.println("ERROR unknown command '" + cmd + "'");
        }
        System.out.flush();
        return true;
    }
}
