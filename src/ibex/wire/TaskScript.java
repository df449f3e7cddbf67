package ibex.wire;

import java.util.Objects;

/**
 * Type 0x12, server to agent: the inputs of one task, pushed before the first {@link Assignments}
 * that names the task, or in answer to {@link ScriptRequest}. {@code args} is the original's
 * argument string (split by the agent, never by a shell); {@code account} is the user to run as;
 * {@code timeoutSeconds} counts from the script's start.
 */
public record TaskScript(long taskId, String script, String args, String stdin, String account,
        int timeoutSeconds) implements Message {
    public TaskScript {
        Objects.requireNonNull(script, "script");
        Objects.requireNonNull(args, "args");
        Objects.requireNonNull(stdin, "stdin");
        Objects.requireNonNull(account, "account");
    }
}
