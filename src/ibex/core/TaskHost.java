package ibex.core;

/** One host of a task; output fields are "" where a query did not load them. */
public record TaskHost(long id, String host, HostStatus status, String stdout, String stderr) {
}
