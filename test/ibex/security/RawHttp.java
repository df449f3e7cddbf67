package ibex.security;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * HTTP/1.1 over a plain socket, byte for byte as given: methods, paths and bodies that
 * {@code java.net.http} refuses to send (bad escapes, invalid UTF-8, odd methods).
 */
final class RawHttp {
    private RawHttp() {
        throw new AssertionError();
    }

    /** Status, lower-cased header block and body of one answer. */
    record Answer(int status, String headers, byte[] body) {
        String text() {
            return new String(body, StandardCharsets.UTF_8);
        }

        @Override
        public String toString() {
            var t = text();
            return status + " " + (t.length() > 300 ? t.substring(0, 300) + "..." : t);
        }
    }

    static byte[] request(String method, String target, String authorization, byte[] body) {
        var head = new StringBuilder();
        head.append(method).append(' ').append(target).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
        if (authorization != null) {
            head.append("Authorization: ").append(authorization).append("\r\n");
        }
        if (body != null) {
            head.append("Content-Type: application/json\r\nContent-Length: ").append(body.length).append("\r\n");
        }
        head.append("\r\n");
        var out = new ByteArrayOutputStream();
        out.writeBytes(head.toString().getBytes(StandardCharsets.ISO_8859_1));
        if (body != null) {
            out.writeBytes(body);
        }
        return out.toByteArray();
    }

    /**
     * Sends one request and reads the answer to the end (the request says Connection: close).
     * An answer the server never finishes within {@code timeoutMs} is an IOException (a hang).
     */
    static Answer send(InetSocketAddress server, byte[] request, int timeoutMs) throws IOException {
        try (var s = new Socket()) {
            s.connect(server, 5000);
            s.setSoTimeout(timeoutMs);
            s.getOutputStream().write(request);
            s.getOutputStream().flush();
            var all = s.getInputStream().readAllBytes();
            return parse(all);
        }
    }

    static Answer parse(byte[] all) throws IOException {
        int end = -1;
        for (int i = 0; i + 3 < all.length; i++) {
            if (all[i] == '\r' && all[i + 1] == '\n' && all[i + 2] == '\r' && all[i + 3] == '\n') {
                end = i;
                break;
            }
        }
        if (end < 0) {
            throw new IOException("no complete HTTP answer: " + all.length + " bytes: "
                    + new String(all, 0, Math.min(all.length, 200), StandardCharsets.ISO_8859_1));
        }
        var head = new String(all, 0, end, StandardCharsets.ISO_8859_1);
        var statusLine = head.split("\r\n", 2)[0];
        var parts = statusLine.split(" ");
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
            throw new IOException("not an HTTP status line: " + statusLine);
        }
        int status = Integer.parseInt(parts[1]);
        byte[] body = java.util.Arrays.copyOfRange(all, end + 4, all.length);
        var lower = head.toLowerCase(Locale.ROOT);
        if (lower.contains("\r\ntransfer-encoding: chunked")) {
            body = unchunk(body);
        }
        return new Answer(status, lower, body);
    }

    private static byte[] unchunk(byte[] b) throws IOException {
        var out = new ByteArrayOutputStream();
        int i = 0;
        while (true) {
            int eol = i;
            while (eol + 1 < b.length && !(b[eol] == '\r' && b[eol + 1] == '\n')) {
                eol++;
            }
            if (eol + 1 >= b.length) {
                throw new IOException("truncated chunked body");
            }
            int size = Integer.parseInt(new String(b, i, eol - i, StandardCharsets.ISO_8859_1).split(";")[0].strip(), 16);
            if (size == 0) {
                return out.toByteArray();
            }
            out.write(b, eol + 2, size);
            i = eol + 2 + size + 2;
        }
    }
}
