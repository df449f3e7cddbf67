package ibex.store;

import java.util.Optional;

/**
 * Host pinning: the first authenticated agent for a host name pins its public key; another key
 * for that name is refused until an operator releases the name.
 */
public final class PinStore {
    private final Database db;

    public PinStore(Database db) {
        this.db = db;
    }

    /** A pinned key (base64 of its X.509 encoding) and when and by whom it was pinned. */
    public record Pin(String host, String publicKey, String agentId, String remote, long pinned) {
    }

    /**
     * Pins {@code publicKey} to {@code host} unless a key is pinned already; returns the pin in
     * force after the call (the caller compares it with the key it was offered).
     */
    public Pin pinOrGet(String host, String publicKey, String agentId, String remote, long now) {
        return db.inTransaction(c -> {
            try (var ps = c.prepareStatement("SELECT host, public_key, agent_id, remote, pinned FROM agent_key WHERE host = ? FOR UPDATE")) {
                ps.setString(1, host);
                try (var rs = ps.executeQuery()) {
                    if (rs.next()) {
                        return new Pin(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getLong(5));
                    }
                }
            }
            TaskStore.update(c, "INSERT INTO agent_key (host, public_key, agent_id, remote, pinned) VALUES (?, ?, ?, ?, ?)",
                    host, publicKey, agentId, remote, now);
            return new Pin(host, publicKey, agentId, remote, now);
        });
    }

    public Optional<Pin> get(String host) {
        return db.read(c -> {
            try (var ps = c.prepareStatement("SELECT host, public_key, agent_id, remote, pinned FROM agent_key WHERE host = ?")) {
                ps.setString(1, host);
                try (var rs = ps.executeQuery()) {
                    return rs.next() ? Optional.of(new Pin(rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(4), rs.getLong(5)))
                            : Optional.<Pin>empty();
                }
            }
        });
    }

    /** Releases a host name; true when a pin was removed. */
    public boolean forget(String host) {
        return db.inTransaction(c -> TaskStore.update(c, "DELETE FROM agent_key WHERE host = ?", host) == 1);
    }
}
