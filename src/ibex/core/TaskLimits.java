package ibex.core;

/**
 * Limits on what one task may carry, so no request can exhaust the server, the database or an
 * agent. Sizes are UTF-8 bytes. Title, creator and account are bounded by their columns (255, 64, 64).
 */
public record TaskLimits(int maxHosts, int maxScriptBytes, int maxArgsBytes, int maxStdinBytes) {
    public static final TaskLimits DEFAULT = new TaskLimits(10_000, 1024 * 1024, 64 * 1024, 1024 * 1024);
}
