package ibex.core;

/**
 * What the server wants one host to do for one task: start the script or kill it. The clock tells
 * runs apart: a redo is a new clock; a kill keeps the clock of the run it kills. An agent starts a
 * script at most once per (task, clock).
 */
public record Assignment(long taskId, long clock, Kind kind) {
    public enum Kind { START, KILL }
}
