package ibex.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throwaway certificate authority made with {@code openssl} at test time, and server
 * certificates it signs (subjectAltName IP:127.0.0.1 and DNS:localhost), keys as unencrypted
 * PKCS#8 PEM: what an operator would give ibex.
 */
record TestCa(Path dir, Path caCert, Path caKey) {

    static TestCa create(Path dir, String name) throws IOException {
        Files.createDirectories(dir);
        var cert = dir.resolve(name + "-ca.crt");
        var key = dir.resolve(name + "-ca.key");
        openssl(dir, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=ibex test CA " + name);
        return new TestCa(dir, cert, key);
    }

    /** A server certificate and its key (PKCS#8, unencrypted) for 127.0.0.1 and localhost. */
    record Issued(Path cert, Path key) {
    }

    Issued issue(String name) throws IOException {
        var rawKey = dir.resolve(name + ".key.sec1");
        var key = dir.resolve(name + ".key");
        var csr = dir.resolve(name + ".csr");
        var cert = dir.resolve(name + ".crt");
        var ext = dir.resolve(name + ".ext");
        Files.writeString(ext, """
                subjectAltName = IP:127.0.0.1, DNS:localhost
                basicConstraints = CA:FALSE
                keyUsage = digitalSignature, keyEncipherment
                extendedKeyUsage = serverAuth, clientAuth
                """);
        openssl(dir, "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", rawKey.toString());
        openssl(dir, "pkcs8", "-topk8", "-nocrypt", "-in", rawKey.toString(), "-out", key.toString());
        openssl(dir, "req", "-new", "-key", key.toString(), "-out", csr.toString(), "-subj", "/CN=" + name);
        openssl(dir, "x509", "-req", "-in", csr.toString(), "-CA", caCert.toString(), "-CAkey", caKey.toString(),
                "-CAcreateserial", "-out", cert.toString(), "-days", "2", "-extfile", ext.toString());
        assertTrue(Files.readString(key).startsWith("-----BEGIN PRIVATE KEY-----"), "PKCS#8 key expected");
        return new Issued(cert, key);
    }

    private static void openssl(Path dir, String... args) throws IOException {
        var cmd = new ArrayList<String>(List.of("openssl"));
        cmd.addAll(List.of(args));
        var p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
        var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        try {
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "openssl hung: " + cmd);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
        assertEquals(0, p.exitValue(), () -> String.join(" ", cmd) + "\n" + out);
    }
}
