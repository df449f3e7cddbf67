package ibex.agent;

import ibex.config.HostPort;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;

/**
 * Opens the connection to a server: plain TCP, or TLS that verifies the server's certificate
 * against [Heartbeat] CAFile and its name against the address dialled.
 */
final class Dialer {
    private final SSLContext tls;

    /** @param tls null for plain TCP */
    Dialer(SSLContext tls) {
        this.tls = tls;
    }

    Socket connect(HostPort server, int timeoutMs) throws IOException {
        var plain = new Socket();
        plain.connect(new InetSocketAddress(server.host(), server.port()), timeoutMs);
        plain.setTcpNoDelay(true);
        if (tls == null) {
            return plain;
        }
        var s = (SSLSocket) tls.getSocketFactory().createSocket(plain, server.host(), server.port(), true);
        var params = s.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        s.setSSLParameters(params);
        s.setSoTimeout(timeoutMs);
        s.startHandshake();
        return s;
    }
}
