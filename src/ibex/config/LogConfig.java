package ibex.config;

import java.nio.file.Path;
import java.util.List;

/**
 * The [Log] section, the same in both files.
 *
 * @param output "stdout", "stderr" or "file"
 * @param dir    where log files go when output is "file"; absolute
 * @param level  "DEBUG", "INFO", "WARNING" or "ERROR"
 */
public record LogConfig(String output, Path dir, String level) {
    static final List<String> KEYS = List.of("Output", "Dir", "Level");
    static final List<String> OUTPUTS = List.of("stdout", "stderr", "file");
    static final List<String> LEVELS = List.of("DEBUG", "INFO", "WARNING", "ERROR");

    static LogConfig from(Bind.Section s) {
        return new LogConfig(s.oneOf("Output", "stdout", OUTPUTS), s.path("Dir", "logs"), s.oneOf("Level", "INFO", LEVELS));
    }
}
