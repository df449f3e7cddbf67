package bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * How much of the machine something other than this benchmark used during the run: machine busy
 * time (/proc/stat) minus this JVM and its reaped children (utime+stime+cutime+cstime of
 * /proc/self/stat; every server, agent, simulator and wrk is a child) minus mysqld.
 */
final class Others {
    private final long[] machine = Procs.machineTicks();
    private final long self = selfTicks();
    private final long mysqldPid = Procs.pidOf("mariadbd") > 0 ? Procs.pidOf("mariadbd") : Procs.pidOf("mysqld");
    private final long mysqld = mysqldPid > 0 ? Procs.cpuTicks(mysqldPid) : 0;
    private final long start = System.nanoTime();

    private static long selfTicks() {
        try {
            var s = Files.readString(Path.of("/proc/self/stat"));
            var f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            return Long.parseLong(f[11]) + Long.parseLong(f[12]) + Long.parseLong(f[13]) + Long.parseLong(f[14]);
        } catch (IOException e) {
            return 0;
        }
    }

    /** One sentence for the header of BENCHMARKS.md. */
    String report() {
        double seconds = (System.nanoTime() - start) / 1e9;
        var m = Procs.machineTicks();
        double cores = Runtime.getRuntime().availableProcessors();
        double busy = 100.0 * cores * (m[0] - machine[0]) / Math.max(1, m[1] - machine[1]);
        double ours = 100.0 * (selfTicks() - self) / Procs.TICKS / seconds;
        double db = mysqldPid > 0 ? 100.0 * (Procs.cpuTicks(mysqldPid) - mysqld) / Procs.TICKS / seconds : 0;
        double rest = Math.max(0, busy - ours - db);
        return String.format(Locale.ROOT, "Over the whole run the machine was %.0f %% busy (of %.0f %%): this benchmark's processes "
                + "%.0f %%, mysqld %.0f %%, everything else %.0f %%%s.", busy, cores * 100, ours, db, rest,
                rest > 10 ? " — **the run was disturbed** by other work on the machine (other engineers' builds and tests); figures"
                        + " that miss may do better on a quiet machine" : " (a quiet machine)");
    }
}
