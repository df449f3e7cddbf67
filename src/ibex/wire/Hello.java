package ibex.wire;

import java.util.Arrays;
import java.util.Objects;

/**
 * Type 0x02, agent to server, the agent's answer to {@link Greeting}. {@code host} is the name the
 * tasks address; {@code agentId} identifies one agent installation, so the server can tell a
 * reconnect of the same agent from a second agent claiming the same host. {@code proof},
 * {@code publicKey} and {@code signature} are empty in protocol version 1; they exist so
 * authentication can arrive without a new message.
 */
public record Hello(int protocolVersion, String host, String agentId, String agentVersion, byte[] proof,
        byte[] publicKey, byte[] signature) implements Message {

    public Hello {
        Objects.requireNonNull(host, "host");
        Objects.requireNonNull(agentId, "agentId");
        Objects.requireNonNull(agentVersion, "agentVersion");
        proof = Objects.requireNonNull(proof, "proof").clone();
        publicKey = Objects.requireNonNull(publicKey, "publicKey").clone();
        signature = Objects.requireNonNull(signature, "signature").clone();
    }

    /** A Hello without authentication, as protocol version 1 sends it. */
    public static Hello unauthenticated(String host, String agentId, String agentVersion) {
        return new Hello(Frames.PROTOCOL_VERSION, host, agentId, agentVersion, new byte[0], new byte[0],
                new byte[0]);
    }

    @Override
    public byte[] proof() {
        return proof.clone();
    }

    @Override
    public byte[] publicKey() {
        return publicKey.clone();
    }

    @Override
    public byte[] signature() {
        return signature.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Hello h && protocolVersion == h.protocolVersion && host.equals(h.host)
                && agentId.equals(h.agentId) && agentVersion.equals(h.agentVersion)
                && Arrays.equals(proof, h.proof) && Arrays.equals(publicKey, h.publicKey)
                && Arrays.equals(signature, h.signature);
    }

    @Override
    public int hashCode() {
        return Objects.hash(protocolVersion, host, agentId, agentVersion, Arrays.hashCode(proof),
                Arrays.hashCode(publicKey), Arrays.hashCode(signature));
    }

    @Override
    public String toString() {
        return "Hello[protocolVersion=" + protocolVersion + ", host=" + host + ", agentId=" + agentId
                + ", agentVersion=" + agentVersion + ", proof=" + proof.length + " bytes, publicKey="
                + publicKey.length + " bytes, signature=" + signature.length + " bytes]";
    }
}
