package ibex.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS from PEM files, the form operators have (openssl, cert-manager, Let's Encrypt): a
 * certificate chain and an unencrypted PKCS#8 private key for a server or a client, CA
 * certificates for whom to trust. Errors name the file and what to do.
 */
public final class Pem {
    private static final char[] NO_PASSWORD = new char[0];

    private Pem() {
        throw new AssertionError();
    }

    /** A context that presents {@code cert}/{@code key} and, with {@code ca}, trusts only that CA. */
    public static SSLContext context(Path cert, Path key, Path ca) {
        try {
            var tls = SSLContext.getInstance("TLS");
            KeyManagerFactory kmf = null;
            if (cert != null) {
                var ks = KeyStore.getInstance("PKCS12");
                ks.load(null, null);
                ks.setKeyEntry("ibex", privateKey(key), NO_PASSWORD, certificates(cert));
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(ks, NO_PASSWORD);
            }
            TrustManagerFactory tmf = null;
            if (ca != null) {
                var ts = KeyStore.getInstance("PKCS12");
                ts.load(null, null);
                int i = 0;
                for (var c : certificates(ca)) {
                    ts.setCertificateEntry("ca" + i++, c);
                }
                tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ts);
            }
            tls.init(kmf == null ? null : kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
            return tls;
        } catch (GeneralSecurityException | IOException e) {
            throw new ConfigException("TLS set-up failed: " + e.getMessage());
        }
    }

    static Certificate[] certificates(Path file) {
        try (var in = Files.newInputStream(file)) {
            var certs = CertificateFactory.getInstance("X.509").generateCertificates(in).toArray(new Certificate[0]);
            if (certs.length == 0) {
                throw new ConfigException(file + ": no certificate in it (expected -----BEGIN CERTIFICATE-----)");
            }
            return certs;
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage());
        } catch (GeneralSecurityException e) {
            throw new ConfigException(file + ": not a PEM certificate: " + e.getMessage());
        }
    }

    static PrivateKey privateKey(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e.getMessage());
        }
        if (text.contains("BEGIN RSA PRIVATE KEY") || text.contains("BEGIN EC PRIVATE KEY") || text.contains("BEGIN ENCRYPTED PRIVATE KEY")) {
            throw new ConfigException(file + ": the key must be unencrypted PKCS#8 (-----BEGIN PRIVATE KEY-----); convert it with "
                    + "openssl pkcs8 -topk8 -nocrypt -in " + file.getFileName() + " -out key.pem");
        }
        int begin = text.indexOf("-----BEGIN PRIVATE KEY-----");
        int end = text.indexOf("-----END PRIVATE KEY-----");
        if (begin < 0 || end < begin) {
            throw new ConfigException(file + ": no private key in it (expected -----BEGIN PRIVATE KEY-----)");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(text.substring(begin + 27, end));
        } catch (IllegalArgumentException e) {
            throw new ConfigException(file + ": the private key is not valid base64");
        }
        for (var alg : new String[] {"RSA", "EC", "Ed25519", "RSASSA-PSS"}) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // Try the next algorithm.
            }
        }
        throw new ConfigException(file + ": the private key is neither RSA, EC nor Ed25519");
    }
}
