package ibex.wire;

/** Type 0x13, agent to server: "send me the {@link TaskScript} of this task, I have none". */
public record ScriptRequest(long taskId) implements Message {
}
