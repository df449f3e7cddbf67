package bench;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The P5 baseline: plain ProcessBuilder starts of one script, as fast as they go, each with its
 * stdin, stdout and stderr on files (as the agent does), none waited for before the next starts.
 *
 * With WRAP (the agent's wrapper, read from ibex.agent.Command by the driver), each start is what
 * the agent runs where glibc is too old for its posix_spawn: setsid /bin/sh -c WRAP SCRIPT RUN-LOG.
 *
 * <pre>usage: Spawn SCRIPT COUNT WORKDIR [WRAP]</pre>
 */
final class Spawn {
    public static void main(String[] args) throws IOException, InterruptedException {
        var script = Path.of(args[0]);
        int count = Integer.parseInt(args[1]);
        var dir = Files.createDirectories(Path.of(args[2]));
        var stdin = dir.resolve("stdin");
        Files.writeString(stdin, "");
        var procs = new ArrayList<Process>(count);
        long t0 = System.nanoTime();
        for (int i = 0; i < count; i++) {
            var argv = args.length > 3
                    ? List.of("/usr/bin/setsid", "/bin/sh", "-c", args[3], script.toString(), dir.resolve(i + ".run").toString())
                    : List.of(script.toString());
            procs.add(new ProcessBuilder(argv).redirectInput(stdin.toFile())
                    .redirectOutput(dir.resolve(i + ".stdout").toFile()).redirectError(dir.resolve(i + ".stderr").toFile())
                    .directory(new File(System.getProperty("user.home"))).start());
        }
        long started = System.nanoTime();
        for (var p : procs) {
            p.waitFor();
        }
        System.out.println("SPAWNED " + count + " startLoopMs=" + (started - t0) / 1_000_000);
    }
}
