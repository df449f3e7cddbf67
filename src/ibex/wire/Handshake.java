package ibex.wire;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.MessageDigest;
import java.security.PublicKey;
import java.security.Signature;
import java.security.spec.X509EncodedKeySpec;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

/**
 * Agent authentication, computed the same way on both ends. The transcript binds the server's
 * fresh nonce to what the agent claims (host, agent id, public key), so a recorded Hello is useless
 * on another connection.
 * <ul>
 * <li>{@code proof} = HMAC-SHA256(key = the shared token, transcript): the agent knows the token.
 *     The token itself never crosses the wire.</li>
 * <li>{@code signature} = Ed25519(agent's private key, transcript): the agent holds the private
 *     key of {@code publicKey} (X.509 encoding), which the server pins to the host name.</li>
 * </ul>
 * Transcript: the bytes "ibex-hello-1", then nonce, host (UTF-8), agentId (UTF-8) and publicKey,
 * each preceded by its length as a u32, so no two claims share a transcript.
 */
public final class Handshake {
    private static final byte[] LABEL = "ibex-hello-1".getBytes(StandardCharsets.US_ASCII);

    private Handshake() {
        throw new AssertionError();
    }

    public static byte[] transcript(byte[] nonce, String host, String agentId, byte[] publicKey) {
        var out = new ByteArrayOutputStream();
        out.writeBytes(LABEL);
        for (var part : new byte[][] {nonce, host.getBytes(StandardCharsets.UTF_8), agentId.getBytes(StandardCharsets.UTF_8), publicKey}) {
            out.write(part.length >>> 24);
            out.write(part.length >>> 16);
            out.write(part.length >>> 8);
            out.write(part.length);
            out.writeBytes(part);
        }
        return out.toByteArray();
    }

    public static byte[] proof(String token, byte[] transcript) {
        try {
            var mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(token.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
            return mac.doFinal(transcript);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("HmacSHA256 is part of every JDK", e);
        }
    }

    /** Compares in constant time, so timing does not tell how much of a forged proof was right. */
    public static boolean proofMatches(String token, byte[] transcript, byte[] proof) {
        return MessageDigest.isEqual(proof(token, transcript), proof);
    }

    public static byte[] sign(KeyPair keys, byte[] transcript) {
        try {
            var s = Signature.getInstance("Ed25519");
            s.initSign(keys.getPrivate());
            s.update(transcript);
            return s.sign();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("Ed25519 signing failed: " + e.getMessage(), e);
        }
    }

    /** True when {@code signature} is the holder of {@code publicKey} signing the transcript. */
    public static boolean signatureMatches(byte[] publicKey, byte[] transcript, byte[] signature) {
        try {
            PublicKey key = KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(publicKey));
            var s = Signature.getInstance("Ed25519");
            s.initVerify(key);
            s.update(transcript);
            return s.verify(signature);
        } catch (GeneralSecurityException | IllegalArgumentException e) {
            return false;
        }
    }

    /** The agent's Hello, with proof when it has a token and key material when it has keys. */
    public static Hello hello(byte[] nonce, String host, String agentId, String agentVersion, String token, KeyPair keys) {
        byte[] pub = keys == null ? new byte[0] : keys.getPublic().getEncoded();
        var t = transcript(nonce, host, agentId, pub);
        byte[] proof = token == null || token.isEmpty() ? new byte[0] : proof(token, t);
        byte[] sig = keys == null ? new byte[0] : sign(keys, t);
        return new Hello(Frames.PROTOCOL_VERSION, host, agentId, agentVersion, proof, pub, sig);
    }
}
