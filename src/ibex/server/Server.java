package ibex.server;

import ibex.config.Pem;
import ibex.config.ServerConfig;
import ibex.core.Counters;
import ibex.core.Log;
import ibex.server.api.ApiServer;
import ibex.server.rpc.AgentHub;
import ibex.server.sched.Scheduler;
import ibex.store.ActionStore;
import ibex.store.AuditStore;
import ibex.store.ClusterStore;
import ibex.store.Database;
import ibex.store.DbSettings;
import ibex.store.DispatchStore;
import ibex.store.StatusStore;
import ibex.store.PinStore;
import ibex.store.ProgressStore;
import ibex.store.TaskStore;
import ibex.wire.Frames;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.InstantSource;

/**
 * The server role. Start order: store (refuses an unknown schema), agent port, scheduler, HTTP
 * API last, so nothing is accepted before it can be served; stop order is the reverse.
 */
public final class Server implements AutoCloseable {
    private final ServerConfig config;
    private final String version;
    private Database db;
    private AgentHub hub;
    private Scheduler scheduler;
    private ApiServer api;
    private InetSocketAddress httpAddress;
    private InetSocketAddress rpcAddress;

    public Server(ServerConfig config, String version) {
        this.config = config;
        this.version = version;
    }

    public void start() throws IOException {
        var d = config.db();
        db = Database.open(DbSettings.of(d, d.maxOpenConns()));
        var clock = InstantSource.system();
        var rpc = config.rpc();
        var beat = config.heartbeat();
        // Scheduler identity: [Heartbeat] IP, else this host's name; never found by dialling out.
        // The agent port is bound first so that a port 0 (tests) is known in the name.
        var ip = beat.ip().isEmpty() ? InetAddress.getLocalHost().getHostName() : beat.ip();
        var rpcTls = rpc.certFile() == null ? null : Pem.context(rpc.certFile(), rpc.keyFile(), null);
        var listener = AgentHub.bind(rpc.host(), rpc.port(), rpcTls);
        var name = ip + ":" + listener.getLocalPort();
        var tasks = new TaskStore(db);
        var dispatch = new DispatchStore(db, name);
        var cluster = new ClusterStore(db);
        var pins = new PinStore(db);
        var counters = new Counters();
        Scheduler[] sched = new Scheduler[1];
        int files = openFileLimit();
        int maxConnections = rpc.maxConnections() > 0 ? rpc.maxConnections() : Math.max(64, files - FILES_KEPT);
        if (rpc.maxConnections() > 0 && rpc.maxConnections() > files - FILES_KEPT) {
            Log.warn("server", "[RPC] MaxConnections " + rpc.maxConnections() + " leaves fewer than " + FILES_KEPT
                    + " of this process's " + files + " file descriptors for HTTP, the database and logs; raise the limit"
                    + " (LimitNOFILE in the systemd unit) or lower MaxConnections");
        }
        hub = new AgentHub(name, new AgentHub.Settings(beat.intervalMs(), Frames.DEFAULT_MAX, rpc.token(), maxConnections),
                dispatch, new ProgressStore(db), cluster, pins, tasks, id -> sched[0].wake(id), clock, counters);
        rpcAddress = hub.start(listener);
        gauges(counters, db, hub);
        var s = config.scheduler();
        scheduler = new Scheduler(dispatch, cluster, name, clock, hub::apply, new Scheduler.Settings(Duration.ofSeconds(1),
                Duration.ofSeconds(s.backstopSeconds()), Duration.ofSeconds(s.noAgentGraceSeconds()), s.retentionDays()), counters);
        sched[0] = scheduler;
        scheduler.start();
        var http = config.http();
        var httpTls = http.certFile() == null ? null : Pem.context(http.certFile(), http.keyFile(), null);
        api = new ApiServer(new ApiServer.Settings(http.host(), http.port(), config.basicAuth(), http.maxBodyBytes(),
                config.limits(), version, httpTls, http.metricsAuth()), new ApiServer.Deps(tasks, new ActionStore(db, name), new AuditStore(db), pins,
                hub::apply, scheduler::firstStep, scheduler::wake, clock, counters));
        httpAddress = api.start();
        if (config.basicAuth().isEmpty()) {
            Log.warn("server", "[BasicAuth] has no account: /ibex/v1 is open to anyone who reaches " + address(httpAddress));
        }
        if (rpc.token() == null) {
            Log.warn("server", "[RPC] Token is not set: any program that reaches the agent port " + address(rpcAddress)
                    + " can claim a new host name, read the scripts sent to it and report results; set a long random Token "
                    + "here and in every agentd.conf");
        }
        Log.info("server", "ibex " + version + " server ready: http " + address(httpAddress) + ", agents "
                + address(rpcAddress) + " (at most " + maxConnections + " connections), store " + db.display() + ", scheduler " + name
                + (httpTls != null ? ", https" : "") + (rpcTls != null ? ", agent tls" : ""));
    }

    /** File descriptors kept out of the agent port's default share: HTTP clients, the database pool, logs, the JDK. */
    static final int FILES_KEPT = 1024;

    /**
     * This process's open-file limit (the JVM raises the soft limit to the hard one at start), from
     * /proc/self/limits; 65,536, the systemd unit's LimitNOFILE, where it cannot be read.
     */
    static int openFileLimit() {
        try {
            for (var line : Files.readAllLines(Path.of("/proc/self/limits"))) {
                if (line.startsWith("Max open files")) {
                    var soft = line.substring("Max open files".length()).strip().split("\\s+")[0];
                    return soft.equals("unlimited") ? Integer.MAX_VALUE : (int) Math.min(Integer.MAX_VALUE, Long.parseLong(soft));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or an unexpected format: the default below
        }
        return 65_536;
    }

    /** The values /metrics reads at each scrape, next to the counters the parts keep. */
    private static void gauges(Counters c, Database db, AgentHub hub) {
        c.gauge("ibex_agents_connected", "Agents connected to this server now.", hub::connected);
        c.gauge("ibex_agent_connections_open", "Connections on the agent port now, handshaking or welcomed.", hub::connectionsOpen);
        c.gauge("ibex_agent_connections_max", "Connections the agent port holds at most ([RPC] MaxConnections).", hub::maxConnections);
        var status = new StatusStore(db);
        c.gauge("ibex_tasks_unfinished", "Unfinished tasks by action (all servers of the database).", "action", status::tasksByAction);
        c.gauge("ibex_task_hosts", "Hosts of unfinished tasks by status (all servers of the database).", "status", status::hostsByStatus);
        c.counter("ibex_db_errors_total", "Database work that failed after its retries, or got no connection.", db::errors);
        c.gauge("ibex_db_pool_max", "Connections the pool may open (MaxOpenConns).", () -> db.poolStats().max());
        c.gauge("ibex_db_pool_open", "Connections open in the pool.", () -> db.poolStats().open());
        c.gauge("ibex_db_pool_in_use", "Connections borrowed now.", () -> db.poolStats().inUse());
        c.gauge("ibex_db_pool_waiting", "Threads waiting for a connection now.", () -> db.poolStats().waiting());
        db.fileUpkeep().ifPresent(f -> {
            c.gauge("ibex_db_file_bytes", "Size of the embedded store's file (README, \"The embedded store's file\").", f.bytes());
            c.counter("ibex_db_file_rewrites_total", "Passes of the embedded file's upkeep that moved pages out of old chunks.",
                    f.rewrites());
            c.gauge("ibex_db_file_synced_timestamp_seconds", "When the upkeep last forced the embedded file to disk, or found nothing new to force (every 100 ms while it runs).",
                    () -> f.lastSyncMillis().getAsLong() / 1000);
        });
        c.gauge("ibex_jvm_heap_used_bytes", "Java heap in use (live and not yet collected).",
                () -> Runtime.getRuntime().totalMemory() - Runtime.getRuntime().freeMemory());
    }

    public InetSocketAddress httpAddress() {
        return httpAddress;
    }

    public InetSocketAddress rpcAddress() {
        return rpcAddress;
    }

    private static String address(InetSocketAddress a) {
        return a.getAddress().getHostAddress() + ":" + a.getPort();
    }

    @Override
    public void close() {
        if (api != null) {
            api.close();
        }
        if (hub != null) {
            hub.close();
        }
        if (scheduler != null) {
            scheduler.close();
        }
        if (db != null) {
            db.close();
        }
        Log.info("server", "stopped");
    }
}
