package ibex.agent;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.spec.PKCS8EncodedKeySpec;
import java.security.spec.X509EncodedKeySpec;

/**
 * The agent's Ed25519 key pair, made on first start and kept in MetaDir ({@code agent.key}, mode
 * 0600; {@code agent.pub}). The server pins the public key to the host name on the first
 * authenticated connection, so a stolen token alone cannot impersonate an enrolled host.
 */
final class Identity {
    private Identity() {
        throw new AssertionError();
    }

    static KeyPair load(Path metaDir) throws IOException {
        var priv = metaDir.resolve("agent.key");
        var pub = metaDir.resolve("agent.pub");
        try {
            if (Files.exists(priv) && Files.exists(pub)) {
                var kf = KeyFactory.getInstance("Ed25519");
                return new KeyPair(kf.generatePublic(new X509EncodedKeySpec(Files.readAllBytes(pub))),
                        kf.generatePrivate(new PKCS8EncodedKeySpec(Files.readAllBytes(priv))));
            }
            var keys = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
            write(pub, keys.getPublic().getEncoded(), "rw-r--r--");
            write(priv, keys.getPrivate().getEncoded(), "rw-------");
            return keys;
        } catch (GeneralSecurityException e) {
            throw new IOException("the agent key in " + metaDir + " is unreadable (" + e.getMessage()
                    + "); remove agent.key and agent.pub to make a new one, then release the host on the server", e);
        }
    }

    private static void write(Path target, byte[] bytes, String perms) throws IOException {
        var tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        Files.deleteIfExists(tmp);
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(perms)));
        Files.write(tmp, bytes);
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }
}
