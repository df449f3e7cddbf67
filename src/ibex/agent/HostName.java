package ibex.agent;

import ibex.core.InvalidTask;
import ibex.core.TaskSpec;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The host name an agent reports: {@code $hostname} is the kernel's host name (as Go's
 * os.Hostname); {@code $ip} is the local address of the connection to the server, which is the
 * address the server sees and needs no route to the internet (the original dialled 8.8.8.8);
 * anything else is used as written.
 */
final class HostName {
    private HostName() {
        throw new AssertionError();
    }

    /** The name for {@code configured}; {@code local} is the connection's address, needed for $ip only. */
    static String resolve(String configured, InetAddress local) throws IOException {
        return resolve(configured, local, HostName::kernelHostname);
    }

    /** The kernel's host name as a parameter, for tests. */
    interface Kernel {
        String hostname() throws IOException;
    }

    static String resolve(String configured, InetAddress local, Kernel kernel) throws IOException {
        String host = switch (configured) {
            case "$hostname" -> kernel.hostname();
            case "$ip" -> local.getHostAddress();
            default -> configured;
        };
        if (host.isEmpty()) {
            throw new IllegalStateException("[Heartbeat] Host \"" + configured + "\" gives an empty host name");
        }
        try {
            TaskSpec.checkHost(host);
        } catch (InvalidTask e) {
            throw new IllegalStateException("[Heartbeat] Host \"" + configured + "\" gives '" + host + "': " + e.getMessage());
        }
        return host;
    }

    private static String kernelHostname() throws IOException {
        var proc = Path.of("/proc/sys/kernel/hostname");
        if (Files.isReadable(proc)) {
            return Files.readString(proc).strip();
        }
        return InetAddress.getLocalHost().getHostName();
    }
}
