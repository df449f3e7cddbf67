package bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/** Processes of the benchmark and what /proc says about them. */
final class Procs {
    private Procs() {
    }

    static final long TICKS = 100;   // CLK_TCK on Linux/amd64

    /** utime + stime of a process in clock ticks; -1 when it is gone. */
    static long cpuTicks(long pid) {
        try {
            var s = Files.readString(Path.of("/proc/" + pid + "/stat"));
            var f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]);
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** A field of /proc/PID/status in kB (VmRSS, VmHWM) or as a count (Threads); -1 when unreadable. */
    static long status(long pid, String field) {
        try {
            for (var line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
                if (line.startsWith(field + ":")) {
                    return Long.parseLong(line.substring(field.length() + 1).strip().split("\\s+")[0]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // gone
        }
        return -1;
    }

    static long fds(long pid) {
        var list = new java.io.File("/proc/" + pid + "/fd").list();
        return list == null ? -1 : list.length;
    }

    /** Busy and total jiffies of the whole machine (all cores), from /proc/stat. */
    static long[] machineTicks() {
        try {
            var f = Files.readAllLines(Path.of("/proc/stat")).getFirst().strip().split("\\s+");
            long total = 0;
            for (int i = 1; i < f.length && i <= 8; i++) {
                total += Long.parseLong(f[i]);
            }
            long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
            return new long[] {total - idle, total};
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** pid of the first process whose command name is {@code comm}, or -1. */
    static long pidOf(String comm) {
        var dirs = new java.io.File("/proc").list();
        if (dirs != null) {
            for (var d : dirs) {
                if (d.matches("[0-9]+")) {
                    try {
                        if (Files.readString(Path.of("/proc/" + d + "/comm")).strip().equals(comm)) {
                            return Long.parseLong(d);
                        }
                    } catch (IOException e) {
                        // raced with its exit
                    }
                }
            }
        }
        return -1;
    }

    /**
     * CPU of some processes over a window, and their RSS sampled every second. Start, then
     * {@link #stop}: CPU in % of one core per process, RSS samples in MB.
     */
    static final class Window {
        final long[] pids;
        final long[] startTicks;
        final long[] machineStart;
        final long startNanos;
        final List<List<Double>> rss = new ArrayList<>();
        private final Thread sampler;
        private volatile boolean running = true;
        double[] cpu;
        double machineBusy;
        double seconds;

        Window(long... pids) {
            this.pids = pids;
            startTicks = new long[pids.length];
            for (int i = 0; i < pids.length; i++) {
                startTicks[i] = cpuTicks(pids[i]);
                rss.add(Collections.synchronizedList(new ArrayList<>()));
            }
            machineStart = machineTicks();
            startNanos = System.nanoTime();
            sampler = Thread.ofPlatform().daemon().start(() -> {
                while (running) {
                    for (int i = 0; i < pids.length; i++) {
                        long kb = status(pids[i], "VmRSS");
                        if (kb > 0) {
                            rss.get(i).add(kb / 1024.0);
                        }
                    }
                    sleep(1000);
                }
            });
        }

        Window stop() {
            running = false;
            seconds = (System.nanoTime() - startNanos) / 1e9;
            cpu = new double[pids.length];
            for (int i = 0; i < pids.length; i++) {
                long end = cpuTicks(pids[i]);
                cpu[i] = end < 0 || startTicks[i] < 0 ? Double.NaN : 100.0 * (end - startTicks[i]) / TICKS / seconds;
            }
            var m = machineTicks();
            // % of one core, like the per-process figures: 200 = both cores busy.
            machineBusy = 100.0 * Runtime.getRuntime().availableProcessors() * (m[0] - machineStart[0]) / Math.max(1, m[1] - machineStart[1]);
            sampler.interrupt();
            return this;
        }

        double rssMedian(int i) {
            return Stats.median(rss.get(i));
        }

        double rssMax(int i) {
            return rss.get(i).stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
        }
    }

    /** A child process with its stdout as a queue of lines and its stdin as a writer. */
    static final class Child implements AutoCloseable {
        final Process process;
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        private final Writer stdin;

        Child(List<String> argv, Path log) throws IOException {
            var pb = new ProcessBuilder(argv).redirectErrorStream(log == null);
            if (log != null) {
                pb.redirectError(log.toFile());
            }
            process = pb.start();
            stdin = new java.io.OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            Thread.ofPlatform().daemon().start(() -> {
                try (var r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException e) {
                    // process ended
                }
                lines.add("EOF");
            });
        }

        long pid() {
            return process.pid();
        }

        void send(String command) {
            try {
                stdin.write(command + "\n");
                stdin.flush();
            } catch (IOException e) {
                throw new UncheckedIOException("to pid " + pid() + ": " + command, e);
            }
        }

        /** The next line starting with {@code prefix}, waiting at most {@code seconds}. */
        String await(String prefix, int seconds) {
            long deadline = System.nanoTime() + seconds * 1_000_000_000L;
            try {
                while (true) {
                    long left = deadline - System.nanoTime();
                    var line = left <= 0 ? null : lines.poll(left, TimeUnit.NANOSECONDS);
                    if (line == null) {
                        throw new IllegalStateException("pid " + pid() + ": no '" + prefix + "' line within " + seconds + " s");
                    }
                    if (line.equals("EOF")) {
                        throw new IllegalStateException("pid " + pid() + " ended while waiting for '" + prefix + "'");
                    }
                    if (line.startsWith(prefix)) {
                        return line;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        }

        @Override
        public void close() {
            try {
                stdin.close();
            } catch (IOException ignored) {
                // already gone
            }
            stop(process);
        }
    }

    /** SIGTERM, then SIGKILL after 5 s. */
    static void stop(Process p) {
        p.destroy();
        try {
            if (!p.waitFor(5, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
