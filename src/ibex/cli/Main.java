package ibex.cli;

import ibex.agent.Agent;
import ibex.config.AgentConfig;
import ibex.config.ConfigException;
import ibex.config.LogConfig;
import ibex.config.ServerConfig;
import ibex.core.Log;
import ibex.server.Server;
import ibex.store.Database;
import ibex.store.DbSettings;
import ibex.store.PinStore;
import ibex.store.StoreException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;

/** {@code ibex server|agentd|compact [-c FILE] | agents forget HOST | version | help}. Exit 0 ok, 1 failed to run, 2 usage. */
public final class Main {
    private static final String USAGE = """
            usage: ibex <command> [options]
              ibex server [-c etc/server.conf]   HTTP API, agent port and scheduler
              ibex agentd [-c etc/agentd.conf]   the agent: runs assigned scripts on this host
              ibex agents forget HOST [-c etc/server.conf]
                                                 release a host name pinned to an agent's key
              ibex compact [-c etc/server.conf]  shrink the embedded store file (server stopped)
              ibex version                       print the version
              ibex help                          this text
            """;

    private Main() {
        throw new AssertionError();
    }

    public static void main(String[] args) {
        System.exit(run(List.of(args)));
    }

    static int run(List<String> args) {
        if (args.isEmpty()) {
            System.err.print(USAGE);
            return 2;
        }
        var rest = args.subList(1, args.size());
        return switch (args.getFirst()) {
            case "server" -> withConfig(rest, "etc/server.conf", Main::server);
            case "agentd" -> withConfig(rest, "etc/agentd.conf", Main::agentd);
            case "agents" -> agents(rest);
            case "compact" -> withConfig(rest, "etc/server.conf", Main::compact);
            case "version", "--version", "-v" -> {
                System.out.println(version());
                yield 0;
            }
            case "help", "--help", "-h" -> {
                System.out.print(USAGE);
                yield 0;
            }
            default -> {
                System.err.println("ibex: unknown command '" + args.getFirst() + "'");
                System.err.print(USAGE);
                yield 2;
            }
        };
    }

    @FunctionalInterface
    private interface Role {
        int run(Path config) throws IOException;
    }

    private static int withConfig(List<String> args, String dflt, Role role) {
        var file = dflt;
        for (int i = 0; i < args.size(); i++) {
            if ((args.get(i).equals("-c") || args.get(i).equals("--config")) && i + 1 < args.size()) {
                file = args.get(++i);
            } else {
                System.err.println("ibex: unknown option '" + args.get(i) + "'");
                System.err.print(USAGE);
                return 2;
            }
        }
        try {
            return role.run(Path.of(file));
        } catch (ConfigException | StoreException | IllegalStateException e) {
            Log.error("main", e.getMessage());
            return 1;
        } catch (IOException e) {
            Log.error("main", e.toString());
            return 1;
        }
    }

    private static int server(Path file) throws IOException {
        var config = ServerConfig.load(file);
        logTo(config.log(), "server");
        config.warnings().forEach(w -> Log.warn("config", w));
        var server = new Server(config, version());
        var stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }));
        try {
            server.start();
        } catch (IOException | RuntimeException e) {
            server.close();
            throw e;
        }
        await(stopped);
        return 0;
    }

    private static int agentd(Path file) throws IOException {
        var config = AgentConfig.load(file);
        logTo(config.log(), "agentd");
        config.warnings().forEach(w -> Log.warn("config", w));
        var agent = new Agent(config, version());
        Runtime.getRuntime().addShutdownHook(new Thread(agent::close));
        Log.info("agentd", "ibex " + version() + " agent starting: meta " + config.metaDir() + ", servers "
                + config.heartbeat().servers());
        agent.run();
        return 0;
    }

    /** {@code ibex agents forget HOST [-c FILE]}: releases a pinned host name, in the server's database. */
    private static int agents(List<String> args) {
        if (args.size() < 2 || !args.getFirst().equals("forget")) {
            System.err.print(USAGE);
            return 2;
        }
        var host = args.get(1);
        return withConfig(args.subList(2, args.size()), "etc/server.conf", file -> {
            try (var db = Database.open(DbSettings.of(ServerConfig.load(file).db(), 1))) {
                boolean removed = new PinStore(db).forget(host);
                System.out.println(removed ? "host '" + host + "' released: the next agent that connects as it pins its key"
                        : "host '" + host + "' was not pinned");
                return 0;
            }
        });
    }

    /** {@code ibex compact [-c FILE]}: rewrites the embedded store file to its live data. */
    private static int compact(Path file) throws IOException {
        var done = Database.compact(DbSettings.of(ServerConfig.load(file).db(), 1));
        System.out.printf("%s: %,d bytes before, %,d after%n", done.file(), done.before(), done.after());
        return 0;
    }

    private static void logTo(LogConfig log, String role) throws IOException {
        PrintStream sink = switch (log.output()) {
            case "stderr" -> System.err;
            case "file" -> {
                Files.createDirectories(log.dir());
                yield new PrintStream(new FileOutputStream(log.dir().resolve(role + ".log").toFile(), true), true,
                        StandardCharsets.UTF_8);
            }
            default -> System.out;
        };
        Log.configure(Log.Level.valueOf(log.level()), sink);
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The module version the build stamped into the jar; "dev" when run from classes. */
    static String version() {
        return Main.class.getModule().getDescriptor() == null ? "dev"
                : Main.class.getModule().getDescriptor().rawVersion().orElse("dev");
    }
}
