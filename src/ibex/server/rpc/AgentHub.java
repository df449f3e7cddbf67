package ibex.server.rpc;

import ibex.core.HostChange;
import ibex.core.Log;
import ibex.store.DispatchStore;
import ibex.store.TaskStore;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;

/**
 * The agent port and the registry of connected agents. Each connected host has one session that
 * holds its current assignments in memory, loaded from the store once when the agent connects and
 * kept up to date by {@link #apply}; heartbeats are answered from that memory, so a heartbeat with
 * nothing to report costs no database query.
 */
public final class AgentHub implements AutoCloseable {
    /** Agent port settings: where to listen, the heartbeat pace agents are told, the frame limit. */
    public record Settings(String host, int port, int heartbeatMs, int maxFrameBytes) {
    }

    private final String serverName;
    private final Settings settings;
    final DispatchStore dispatch;
    final Scripts scripts;
    final Runnable resultsStored;
    private final Map<String, AgentSession> sessions = new ConcurrentHashMap<>();
    private final ExecutorService threads = Executors.newVirtualThreadPerTaskExecutor();
    private ServerSocket listener;

    /**
     * @param resultsStored called after results were stored, so the scheduler can start the next
     *                      hosts of a batch or finish the task without waiting for its tick
     */
    public AgentHub(String serverName, Settings settings, DispatchStore dispatch, TaskStore tasks, Runnable resultsStored) {
        this.serverName = serverName;
        this.settings = settings;
        this.dispatch = dispatch;
        this.scripts = new Scripts(tasks);
        this.resultsStored = resultsStored;
    }

    /** Binds the agent port and starts accepting; returns the bound address (port 0 = any). */
    public InetSocketAddress start() throws IOException {
        listener = new ServerSocket();
        listener.setReuseAddress(true);
        listener.bind(new InetSocketAddress(settings.host(), settings.port()), 4096);
        Thread.ofPlatform().name("ibex-agent-accept").daemon().start(this::acceptLoop);
        return (InetSocketAddress) listener.getLocalSocketAddress();
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            try {
                Socket s = listener.accept();
                threads.submit(() -> new AgentSession(this, s).run());
            } catch (IOException e) {
                if (!listener.isClosed()) {
                    Log.warn("rpc", "accept failed: " + e.getMessage());
                }
            } catch (RuntimeException e) {
                Log.error("rpc", "accept loop", e);
            }
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
        }
        byHost.forEach((host, list) -> {
            var s = sessions.get(host);
            if (s != null) {
                s.change(list);
            }
        });
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
        threads.shutdownNow();
    }
}
