package ibex.store;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The schema of record, {@code sql/ibex.sql}, read as statements for JDBC.
 *
 * <p>The file is written for {@code mysql < sql/ibex.sql}; its rules (see its header) keep it
 * runnable by H2 too, except the {@code CREATE DATABASE} and {@code USE} lines, which are dropped
 * here because over JDBC the URL already names the database.
 */
final class Schema {
    /** The version in {@code ibex_schema} this build reads and writes. */
    static final int VERSION = 1;
    /** Every table the code relies on; a database missing one of them is not ours. */
    static final List<String> TABLES =
            List.of("ibex_schema", "task_meta", "task_action", "task_scheduler", "task_scheduler_health", "task_host",
                    "agent_host", "dispatch_log", "agent_key", "audit_log");
    static final String RESOURCE = "/ibex/store/ibex.sql";
    /** Where tests on the class path find the file (no resource is copied there). */
    static final String FILE_PROPERTY = "ibex.sql";

    private Schema() {
    }

    /** The script: the module resource, else the file named by the system property ibex.sql. */
    static String script() {
        try (InputStream in = Schema.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                return new String(in.readAllBytes(), StandardCharsets.UTF_8);
            }
        } catch (IOException e) {
            throw new StoreException("cannot read the schema resource " + RESOURCE + ": " + e.getMessage(), e);
        }
        String file = System.getProperty(FILE_PROPERTY);
        if (file == null || file.isBlank()) {
            throw new StoreException("schema resource " + RESOURCE + " is missing from the build and system property "
                    + FILE_PROPERTY + " is not set");
        }
        try {
            return Files.readString(Path.of(file));
        } catch (IOException e) {
            throw new StoreException("cannot read the schema file " + file + " (system property " + FILE_PROPERTY
                    + "): " + e, e);
        }
    }

    /** The statements to run over JDBC, without their ';'. */
    static List<String> statements() {
        return statements(script());
    }

    /**
     * Splits on ';' at a line end and drops whole-line '--' comments, blank lines and the database
     * lines. Enough for our own file, which keeps ';' out of strings and comments out of statements.
     */
    static List<String> statements(String script) {
        List<String> out = new ArrayList<>();
        StringBuilder current = new StringBuilder();
        for (String line : script.split("\\R")) {
            String trimmed = line.strip();
            if (trimmed.isEmpty() || trimmed.startsWith("--")) {
                continue;
            }
            if (!current.isEmpty()) {
                current.append('\n');
            }
            if (trimmed.endsWith(";")) {
                current.append(line, 0, line.lastIndexOf(';'));
                add(out, current.toString());
                current.setLength(0);
            } else {
                current.append(line);
            }
        }
        add(out, current.toString());
        return List.copyOf(out);
    }

    private static void add(List<String> out, String statement) {
        String s = statement.strip();
        String upper = s.toUpperCase(Locale.ROOT);
        if (s.isEmpty() || upper.startsWith("CREATE DATABASE") || upper.startsWith("USE ") || upper.equals("USE")) {
            return;
        }
        out.add(s);
    }
}
