package ibex.store;

import java.sql.SQLException;

/**
 * A store failure: the database cannot be reached, has the wrong schema, or a statement failed.
 * Unchecked because callers above the store can do nothing but report it; the message already says
 * which database and what happened, and never contains a password.
 */
public final class StoreException extends RuntimeException {

    StoreException(String message) {
        super(message);
    }

    StoreException(String message, Throwable cause) {
        super(message, cause);
    }

    /** The SQLState of the first SQLException in the cause chain, or "" when there is none. */
    public String sqlState() {
        for (Throwable t = getCause(); t != null; t = t.getCause()) {
            if (t instanceof SQLException e && e.getSQLState() != null) {
                return e.getSQLState();
            }
        }
        return "";
    }

    /**
     * Whether the database refused the data itself, so that the same work fails however often it
     * is tried, and other work does not: SQLState class 22 (data exception) or 23 (integrity
     * constraint); and MySQL's errors for a CHECK constraint (3819) and a string its charset
     * cannot hold (1366), which MySQL sends as the general HY000 (MariaDB as 23000 and 22007).
     */
    public boolean refusedData() {
        var state = sqlState();
        if (state.startsWith("22") || state.startsWith("23")) {
            return true;
        }
        for (Throwable t = getCause(); t != null; t = t.getCause()) {
            if (t instanceof SQLException e && (e.getErrorCode() == 3819 || e.getErrorCode() == 1366)) {
                return true;
            }
        }
        return false;
    }
}
