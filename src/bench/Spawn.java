package bench;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;

/**
 * The P5 baseline: plain ProcessBuilder starts of one script, as fast as they go, each with its
 * stdin, stdout and stderr on files (as the agent does), none waited for before the next starts.
 *
 * <pre>usage: Spawn SCRIPT COUNT WORKDIR</pre>
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
            procs.add(new ProcessBuilder(script.toString()).redirectInput(stdin.toFile())
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
