package ibex.server.rpc;

import ibex.core.Log;
import ibex.store.ClusterStore;
import java.time.InstantSource;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Follows the change log written by every server, so an assignment made through another server
 * reaches the agents connected here within {@link #POLL_MS} ms plus a query. Rows this server wrote
 * are skipped (it pushed them already). Auto-increment positions can commit out of order, so the
 * cursor only moves over a contiguous run of seen positions; a hole is waited for up to
 * {@link #HOLE_WAIT_MS} (a rolled-back insert leaves one forever).
 */
final class LogFollower {
    static final long POLL_MS = 200;
    static final long HOLE_WAIT_MS = 5000;
    private final ClusterStore cluster;
    private final String me;
    private final InstantSource clock;
    private final Consumer<Set<String>> changedHosts;
    private final TreeSet<Long> seenAhead = new TreeSet<>();
    private long cursor;
    private long holeSince;

    LogFollower(ClusterStore cluster, String me, InstantSource clock, Consumer<Set<String>> changedHosts) {
        this.cluster = cluster;
        this.me = me;
        this.clock = clock;
        this.changedHosts = changedHosts;
    }

    void run(BooleanSupplier stopped) {
        boolean started = false;
        while (!stopped.getAsBoolean()) {
            try {
                if (!started) {
                    cursor = cluster.logHead();
                    started = true;
                }
                poll();
            } catch (RuntimeException e) {
                Log.warn("rpc", "reading the change log: " + e.getMessage());
            }
            try {
                Thread.sleep(POLL_MS);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    /** One poll: hands the hosts of unseen rows on, then moves the cursor. */
    void poll() {
        var hosts = new HashSet<String>();
        for (var row : cluster.logAfter(cursor, 1000)) {
            if (seenAhead.add(row.seq()) && !row.server().equals(me)) {
                if (row.taskWide()) {
                    hosts.addAll(cluster.hostsOf(row.taskId()));
                } else {
                    hosts.add(row.host());
                }
            }
        }
        if (!hosts.isEmpty()) {
            changedHosts.accept(hosts);
        }
        long now = clock.millis();
        while (!seenAhead.isEmpty()) {
            if (seenAhead.first() == cursor + 1) {
                cursor = seenAhead.pollFirst();
                holeSince = 0;
            } else if (holeSince == 0) {
                holeSince = now;
                break;
            } else if (now - holeSince > HOLE_WAIT_MS) {
                cursor = seenAhead.first() - 1;
                holeSince = 0;
            } else {
                break;
            }
        }
    }
}
