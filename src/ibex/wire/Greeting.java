package ibex.wire;

import java.util.Arrays;
import java.util.Objects;

/**
 * Type 0x01, server to agent, the first frame on every connection. The nonce is fresh random bytes
 * ({@link #NONCE_BYTES} of them) that a later authentication proof will cover.
 */
public record Greeting(int protocolVersion, String server, byte[] nonce) implements Message {
    public static final int NONCE_BYTES = 32;

    public Greeting {
        Objects.requireNonNull(server, "server");
        nonce = Objects.requireNonNull(nonce, "nonce").clone();
    }

    /** A copy: the record stays immutable. */
    @Override
    public byte[] nonce() {
        return nonce.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Greeting g && protocolVersion == g.protocolVersion && server.equals(g.server)
                && Arrays.equals(nonce, g.nonce);
    }

    @Override
    public int hashCode() {
        return Objects.hash(protocolVersion, server, Arrays.hashCode(nonce));
    }

    @Override
    public String toString() {
        return "Greeting[protocolVersion=" + protocolVersion + ", server=" + server + ", nonce="
                + nonce.length + " bytes]";
    }
}
