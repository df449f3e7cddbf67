package ibex.core;

import java.io.PrintStream;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Locale;

/**
 * One line per event: time, level, component, message. The sink and level are set once at start
 * by the command line (stdout, stderr or a file); until then lines go to stderr at INFO.
 * Expected errors are logged as messages, never as stack traces.
 */
public final class Log {
    public enum Level { DEBUG, INFO, WARNING, ERROR }

    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", Locale.ROOT).withZone(ZoneId.systemDefault());
    private static volatile PrintStream out = System.err;
    private static volatile Level min = Level.INFO;

    private Log() {
        throw new AssertionError();
    }

    public static void configure(Level level, PrintStream sink) {
        min = level;
        out = sink;
    }

    public static boolean debugging() {
        return min == Level.DEBUG;
    }

    public static void debug(String component, String message) {
        write(Level.DEBUG, component, message);
    }

    public static void info(String component, String message) {
        write(Level.INFO, component, message);
    }

    public static void warn(String component, String message) {
        write(Level.WARNING, component, message);
    }

    public static void error(String component, String message) {
        write(Level.ERROR, component, message);
    }

    /** An unexpected failure: the message plus the exception's class and text, still one line. */
    public static void error(String component, String message, Throwable t) {
        write(Level.ERROR, component, message + ": " + t);
        if (debugging()) {
            t.printStackTrace(out);
        }
    }

    private static void write(Level level, String component, String message) {
        if (level.compareTo(min) < 0) {
            return;
        }
        var line = TIME.format(Instant.now()) + " " + level + " " + component + " " + message.replace('\n', ' ');
        var sink = out;
        synchronized (sink) {
            sink.println(line);
        }
    }
}
