package ibex.core;

/** A task request that cannot be accepted; the message is API text ("arg(batch) should be nonnegative"). */
public final class InvalidTask extends RuntimeException {
    private final boolean badRequest;

    private InvalidTask(String message, boolean badRequest) {
        super(message, null, false, false);
        this.badRequest = badRequest;
    }

    /** The original answers these with HTTP 400 (bind and host-list failures). */
    public static InvalidTask badRequest(String message) {
        return new InvalidTask(message, true);
    }

    /** The original answers these with HTTP 200 and the message in {@code err}. */
    public static InvalidTask rejected(String message) {
        return new InvalidTask(message, false);
    }

    public boolean isBadRequest() {
        return badRequest;
    }
}
