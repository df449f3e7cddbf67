package ibex.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Feeds valid, bit-flipped, truncated, spliced and random frames to a {@link FrameReader}. The reader
 * must return messages or throw IOException; never another exception, never an error, never hang.
 * Every message it returns re-encodes to exactly the bytes it was read from (the encoding is
 * canonical). Run longer with: {@code java -cp ... ibex.wire.WireFuzzTest SEED ITERATIONS}.
 */
class WireFuzzTest {
    private static final int LIMIT = 1 << 20;

    @Test
    void fuzz_fixedSeed_readerOnlyReturnsMessagesOrThrowsIOException() {
        var outcome = assertTimeoutPreemptively(Duration.ofSeconds(120), () -> fuzz(20_260_125L, 5_000));
        // The mix must stay meaningful: plenty of decoded messages and plenty of rejected inputs.
        assertTrue(outcome.messages() > 2_000, outcome.toString());
        assertTrue(outcome.rejected() > 2_000, outcome.toString());
    }

    /** What the reader did over a run: messages returned, inputs that ended in an IOException. */
    record Outcome(long messages, long rejected) {
    }

    public static void main(String[] args) {
        long seed = args.length > 0 ? Long.parseLong(args[0]) : System.nanoTime();
        int iterations = args.length > 1 ? Integer.parseInt(args[1]) : 1_000_000;
        System.out.println("fuzz: seed " + seed + ", " + iterations + " iterations");
        System.out.println("fuzz: ok, " + fuzz(seed, iterations));
    }

    static Outcome fuzz(long seed, int iterations) {
        var rnd = new Random(seed);
        long messages = 0;
        long rejected = 0;
        for (int i = 0; i < iterations; i++) {
            byte[] input = input(rnd);
            try {
                int n = readAll(input);
                messages += Math.max(n, -n - 1);
                rejected += n < 0 ? 1 : 0;
            } catch (Throwable t) {
                throw new AssertionError("seed " + seed + ", iteration " + i + ", input "
                        + HexFormat.of().formatHex(input, 0, Math.min(input.length, 512)), t);
            }
        }
        return new Outcome(messages, rejected);
    }

    /** The number of messages read; as {@code -n - 1} when the input ended in a WireException. */
    private static int readAll(byte[] input) {
        var in = new ByteArrayInputStream(input);
        var reader = new FrameReader(in, LIMIT);
        // Every successful read consumes at least 5 bytes, so this bound is never the one that stops.
        for (int frames = 0; frames <= input.length / 5 + 1; frames++) {
            int from = input.length - in.available();
            Message m;
            try {
                m = reader.read();
            } catch (java.io.EOFException e) {
                return frames;
            } catch (IOException e) {
                return -frames - 1;
            }
            int to = input.length - in.available();
            assertArrayEquals(Arrays.copyOfRange(input, from, to), Codec.encode(m), "canonical re-encoding");
        }
        throw new AssertionError("reader returned more frames than the input can hold");
    }

    private static byte[] input(Random r) {
        byte[] valid = validStream(r);
        return switch (r.nextInt(8)) {
            case 0 -> valid;
            case 1 -> flipBits(r, valid);
            case 2 -> valid.length == 0 ? valid : Arrays.copyOf(valid, r.nextInt(valid.length));
            case 3 -> randomBytes(r);
            case 4 -> withLength(r, valid);
            case 5 -> splice(r, valid, validStream(r));
            case 6 -> overwriteCount(r, valid);
            default -> flipBits(r, Arrays.copyOf(valid, Math.max(0, valid.length - r.nextInt(8))));
        };
    }

    private static byte[] validStream(Random r) {
        int n = 1 + r.nextInt(3);
        var frames = new byte[n][];
        for (int i = 0; i < n; i++) {
            frames[i] = Codec.encode(Samples.random(r));
        }
        return Samples.concat(frames);
    }

    private static byte[] flipBits(Random r, byte[] b) {
        var out = b.clone();
        for (int i = 1 + r.nextInt(4); i > 0 && out.length > 0; i--) {
            // bias towards the headers and counts at the front, where decisions are made
            int at = r.nextBoolean() ? r.nextInt(Math.min(out.length, 24)) : r.nextInt(out.length);
            out[at] ^= (byte) (1 << r.nextInt(8));
        }
        return out;
    }

    private static byte[] randomBytes(Random r) {
        var b = new byte[r.nextInt(64)];
        r.nextBytes(b);
        if (b.length >= 5 && r.nextBoolean()) {
            // a plausible header with a random body
            int length = b.length - 4;
            b[0] = 0;
            b[1] = 0;
            b[2] = (byte) (length >> 8);
            b[3] = (byte) length;
            b[4] = (byte) new int[] {0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13, 0x7F}[r.nextInt(8)];
        }
        return b;
    }

    private static byte[] withLength(Random r, byte[] valid) {
        var out = valid.clone();
        int length = switch (r.nextInt(4)) {
            case 0 -> r.nextInt();
            case 1 -> r.nextInt(LIMIT + 2);
            case 2 -> LIMIT + 1;
            default -> (out[0] << 24 | (out[1] & 0xFF) << 16 | (out[2] & 0xFF) << 8 | (out[3] & 0xFF))
                    + r.nextInt(9) - 4;
        };
        out[0] = (byte) (length >>> 24);
        out[1] = (byte) (length >>> 16);
        out[2] = (byte) (length >>> 8);
        out[3] = (byte) length;
        return out;
    }

    private static byte[] splice(Random r, byte[] a, byte[] b) {
        int cut = r.nextInt(a.length + 1);
        int from = r.nextInt(b.length + 1);
        return Samples.concat(Arrays.copyOf(a, cut), Arrays.copyOfRange(b, from, b.length));
    }

    /** Writes a large u32 at a random 4-byte position inside the body: a lying length or count. */
    private static byte[] overwriteCount(Random r, byte[] valid) {
        var out = valid.clone();
        if (out.length < 9) {
            return out;
        }
        int at = 5 + r.nextInt(out.length - 8);
        int v = r.nextBoolean() ? -1 - r.nextInt(1000) : r.nextInt(1 << 16);
        out[at] = (byte) (v >>> 24);
        out[at + 1] = (byte) (v >>> 16);
        out[at + 2] = (byte) (v >>> 8);
        out[at + 3] = (byte) v;
        return out;
    }
}
