package ibex.config;

/**
 * A config file that cannot be used. The message is API text, checked by tests, and names the place
 * first: {@code server.conf:14: [HTTP] Port must be 0..65535, got 70000}. It never contains a password.
 */
public final class ConfigException extends RuntimeException {

    ConfigException(String message) {
        super(message, null, false, false);
    }

    ConfigException(String message, Throwable cause) {
        super(message, cause, false, false);
    }

    /** {@code file:line: what}, the form of every error about a place in a file; line 0: not known. */
    static ConfigException at(String file, int line, String what) {
        return new ConfigException(file + (line > 0 ? ":" + line : "") + ": " + what);
    }
}
