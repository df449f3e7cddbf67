package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetAddress;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** {@code [Heartbeat] Host}: $hostname, $ip (the connection's own address), or as written (issue 4 §8). */
class HostNameTest {
    @Test
    void literal_isUsedAsWritten() throws Exception {
        assertEquals("db-7.example", HostName.resolve("db-7.example", null, () -> "ignored"));
    }

    @Test
    void hostname_isTheKernels() throws Exception {
        assertEquals("web-3", HostName.resolve("$hostname", null, () -> "web-3"));
    }

    @Test
    void ip_isTheLocalAddressOfTheConnection() throws Exception {
        assertEquals("10.1.2.3", HostName.resolve("$ip", InetAddress.getByName("10.1.2.3"), () -> "x"));
    }

    @Test
    void unusableKernelHostname_isRefusedWithTheReason() {
        var e = assertThrows(IllegalStateException.class, () -> HostName.resolve("$hostname", null, () -> "my host"));
        assertEquals("[Heartbeat] Host \"$hostname\" gives 'my host': host 'my host' has a character that is not allowed"
                + " in a host name", e.getMessage());
        var empty = assertThrows(IllegalStateException.class, () -> HostName.resolve("$hostname", null, () -> ""));
        assertEquals("[Heartbeat] Host \"$hostname\" gives an empty host name", empty.getMessage());
    }

    @Test
    void ipAgent_answersToTheAddressItConnectsFrom_withoutARouteToTheInternet() throws Exception {
        try (var h = new Harness()) {
            h.agent("$ip", "");
            long id = h.task("#!/bin/sh\necho via ip\n", "root", 0, "127.0.0.1");
            var end = h.awaitEnd(id, "127.0.0.1", Duration.ofSeconds(20));
            assertEquals("success", end.getString("status", ""), end::toString);
            assertEquals("via ip\n", end.getString("stdout", ""));
        }
    }
}
