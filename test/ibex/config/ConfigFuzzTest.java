package ibex.config;

import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Whatever the bytes, loading ends quickly with a config or a ConfigException, nothing else. */
class ConfigFuzzTest {
    private static final long SEED = 0x1BE7_C0F1_6L;
    private static final String[] TOKENS = {"[", "]", "\"", "'", "=", "#", ",", "\n", "\r", "\\", "\\u", "\\U", "[[",
        "\"\"\"", "_", "-", "0", "99999999999999999999", "true", "[DB]", "[HTTP]", "[Heartbeat]", "[MySQL]", "[Gorm]",
        "DSN = \"a:b@tcp(h:1)/d?x=%zz\"", "DBType = \"mysql\"", "Listen = \"[::1]:\"", "Servers = [", "Host = \"\"",
        "CertFile = \"\u0000\"", "\uFEFF", "\u00e9", "\uD800"};

    @Test
    void randomBytesAndMutations_onlyEverThrowConfigException() throws IOException {
        var server = Files.readAllBytes(Path.of("etc/server.conf"));
        var agent = Files.readAllBytes(Path.of("etc/agentd.conf"));
        var random = new Random(SEED);
        int[] parsed = {0};
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int i = 0; i < 2000; i++) {
                byte[] input = switch (i % 3) {
                    case 0 -> randomBytes(random);
                    case 1 -> mutate(random, server);
                    default -> mutate(random, agent);
                };
                parsed[0] += check(i, input);
            }
        });
        // Mutations must also reach the binding code, or this test would only exercise the reader.
        assertTrue(parsed[0] > 500, "only " + parsed[0] + " inputs parsed");
    }

    /** 1 when the input parsed, so that the loaders saw it. */
    private static int check(int i, byte[] input) {
        int parsed = 0;
        for (int which = 0; which < 2; which++) {
            try {
                var doc = Toml.parse("fuzz.conf", input);
                parsed = which;
                if (which == 0) {
                    ServerConfig.from(Path.of("fuzz.conf"), doc);
                } else {
                    AgentConfig.from(Path.of("fuzz.conf"), doc);
                }
            } catch (ConfigException expected) {
                // the only allowed outcome besides success
            } catch (RuntimeException | StackOverflowError e) {
                fail("iteration " + i + " (seed " + SEED + ") threw " + e + " for input:\n"
                        + new String(input, StandardCharsets.UTF_8), e);
            }
        }
        return parsed;
    }

    private static byte[] randomBytes(Random random) {
        var b = new byte[random.nextInt(200)];
        random.nextBytes(b);
        return b;
    }

    private static byte[] mutate(Random random, byte[] original) {
        var text = new StringBuilder(new String(original, StandardCharsets.UTF_8));
        int edits = 1 + random.nextInt(4);
        for (int e = 0; e < edits; e++) {
            int at = random.nextInt(text.length() + 1);
            switch (random.nextInt(4)) {
                case 0 -> text.insert(at, TOKENS[random.nextInt(TOKENS.length)]);
                case 1 -> text.delete(at, Math.min(text.length(), at + 1 + random.nextInt(20)));
                case 2 -> text.insert(at, (char) random.nextInt(0x80));
                default -> {
                    if (at < text.length()) {
                        text.setCharAt(at, (char) (' ' + random.nextInt(95)));
                    }
                }
            }
        }
        var bytes = text.toString().getBytes(StandardCharsets.UTF_8);
        if (random.nextInt(10) == 0 && bytes.length > 0) {
            bytes[random.nextInt(bytes.length)] = (byte) random.nextInt(256);
        }
        return bytes;
    }
}
