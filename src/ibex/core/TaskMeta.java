package ibex.core;

import java.time.Instant;

/** A stored task definition as the API serves it ({@code done} is derived: no action row left). */
public record TaskMeta(long id, String title, String account, int batch, int tolerance, int timeout,
                       String pause, String script, String args, String stdin, String creator,
                       Instant created, boolean done) {
}
