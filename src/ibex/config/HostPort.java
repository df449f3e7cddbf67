package ibex.config;

/**
 * A network address from a config file: {@code host:port}, an IPv6 host in brackets ({@code [::1]:20090}).
 * The host is kept as written (a name or a literal address); resolving it is the user's business.
 */
public record HostPort(String host, int port) {

    /** {@code host:port}, with the brackets back around an IPv6 host. */
    @Override
    public String toString() {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }

    /**
     * @param minPort 0 where the port is one to listen on (0 = any free port), 1 where it is one to dial
     * @throws IllegalArgumentException saying what is wrong, without repeating the text
     */
    static HostPort parse(String text, int minPort) {
        int colon = text.lastIndexOf(':');
        if (colon < 0) {
            throw new IllegalArgumentException("missing :port");
        }
        String host = text.substring(0, colon);
        String port = text.substring(colon + 1);
        if (host.startsWith("[")) {
            if (!host.endsWith("]") || host.length() < 3 || host.indexOf(':') < 0) {
                throw new IllegalArgumentException("an IPv6 host goes in brackets, as [::1]:20090");
            }
            host = host.substring(1, host.length() - 1);
        } else if (host.indexOf(':') >= 0) {
            throw new IllegalArgumentException("an IPv6 host goes in brackets, as [::1]:20090");
        }
        if (host.isEmpty()) {
            throw new IllegalArgumentException("missing host; 0.0.0.0 listens on all addresses");
        }
        for (int i = 0; i < host.length(); i++) {
            char c = host.charAt(i);
            if (c <= ' ' || c == 0x7f || "/[]@,\"'\\".indexOf(c) >= 0) {
                throw new IllegalArgumentException("the host has a character that is not allowed");
            }
        }
        int n = -1;
        if (!port.isEmpty() && port.length() <= 5 && port.chars().allMatch(c -> c >= '0' && c <= '9')) {
            n = Integer.parseInt(port);
        }
        if (n < minPort || n > 65535) {
            throw new IllegalArgumentException("port " + minPort + "..65535");
        }
        return new HostPort(host, n);
    }
}
