package ibex.config;

import ibex.core.InvalidTask;
import ibex.core.TaskSpec;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Typed, checked reading of a parsed file. The getters are the schema: every key a loader asks for
 * becomes a known key of its section, so adding a key is one getter call plus a record field. What
 * nobody asked for is, in {@link #finish}, either a key of the original ibex (collected into one
 * warning) or a mistake (an error naming the line, the key and the known keys of its section).
 */
final class Bind {
    /** The original-only table's marker for "every key of this section". */
    static final Set<String> WHOLE_SECTION = Set.of("*");

    private final Toml.Doc doc;
    private final Map<String, Set<String>> originalOnly;
    private final Map<String, Set<String>> known = new LinkedHashMap<>();
    private final Set<String> unused = new HashSet<>();

    /** {@code originalOnly}: section ("" = top level) to the original's keys we accept and ignore. */
    Bind(Toml.Doc doc, Map<String, Set<String>> originalOnly) {
        this.doc = doc;
        this.originalOnly = originalOnly;
    }

    String file() {
        return doc.file();
    }

    boolean present(String section) {
        return doc.tables().containsKey(section);
    }

    Section section(String name) {
        known.computeIfAbsent(name, n -> new LinkedHashSet<>());
        return new Section(name, doc.tables().get(name));
    }

    /** A section this load does not use after all (say [MySQL] when DSN is set): its keys go to the warning. */
    void unused(String section) {
        unused.add(section);
        known.remove(section);
    }

    /** Stops at the first key or section nobody asked for; else returns the warnings (none or one). */
    List<String> finish() {
        var ignored = new ArrayList<String>();
        for (var table : doc.tables().values()) {
            String name = table.name();
            var used = known.get(name);
            var original = originalOnly.getOrDefault(name, Set.of());
            boolean whole = unused.contains(name) || original.equals(WHOLE_SECTION);
            if (used == null && !whole) {
                var sections = new ArrayList<>(known.keySet());
                sections.remove("");
                throw ConfigException.at(file(), table.line(), "unknown section [" + name + "] (known: " + list(sections) + ")");
            }
            if (whole && table.entries().isEmpty()) {
                ignored.add("[" + name + "]");
            }
            for (var e : table.entries().values()) {
                if (used != null && used.contains(e.key())) {
                    continue;
                }
                if (!whole && !original.contains(e.key())) {
                    throw ConfigException.at(file(), e.line(), "unknown " + (name.isEmpty() ? "top-level key '" + e.key() + "'"
                            : "key '" + e.key() + "' in [" + name + "]") + " (known: " + list(used) + ")");
                }
                ignored.add(label(name, e.key()));
            }
        }
        return ignored.isEmpty() ? List.of() : List.of(file()
                + ": ignoring keys of the original ibex that this ibex does not use: " + String.join(", ", ignored));
    }

    private static String list(java.util.Collection<String> names) {
        return names == null || names.isEmpty() ? "none" : String.join(", ", names);
    }

    static String label(String section, String key) {
        return section.isEmpty() ? key : "[" + section + "] " + key;
    }

    /** One section's keys; a section missing from the file reads as empty, so every key has its default. */
    final class Section {
        private final String name;
        private final Toml.Table table;

        private Section(String name, Toml.Table table) {
            this.name = name;
            this.table = table;
        }

        boolean has(String key) {
            return entry(key) != null;
        }

        /** The key's line, else the section header's, else 0 (no line known). */
        int line(String key) {
            var e = entry(key);
            return e != null ? e.line() : table != null ? table.line() : 0;
        }

        /** {@code file:line: [Section] Key what}. */
        ConfigException error(String key, String what) {
            return ConfigException.at(file(), line(key), label(name, key) + " " + what);
        }

        String string(String key, String def) {
            return string(key, def, "a string");
        }

        /** {@code expected} completes "must be ...", e.g. {@code a string "host:port"}. */
        String string(String key, String def, String expected) {
            var v = value(key);
            if (v == null) {
                return def;
            }
            if (v instanceof Toml.Str(String s)) {
                return s;
            }
            throw error(key, "must be " + expected + ", got " + v.show());
        }

        /** A string whose value never appears in a message, not even when it has the wrong type. */
        String secret(String key, String def) {
            var v = value(key);
            if (v == null) {
                return def;
            }
            if (v instanceof Toml.Str(String s)) {
                return s;
            }
            throw error(key, "must be a string, got " + v.kind());
        }

        String oneOf(String key, String def, List<String> allowed) {
            String s = string(key, def, "one of " + quoted(allowed));
            if (!allowed.contains(s)) {
                throw error(key, "must be one of " + quoted(allowed) + ", got " + new Toml.Str(s).show());
            }
            return s;
        }

        int integer(String key, int def, int min, int max) {
            var v = value(key);
            if (v == null) {
                return def;
            }
            if (!(v instanceof Toml.Int(long n))) {
                throw error(key, "must be an integer, got " + v.show());
            }
            if (n < min || n > max) {
                throw error(key, "must be " + min + ".." + max + ", got " + n);
            }
            return (int) n;
        }

        /** A path made absolute against the current directory; null when absent or "" and {@code def} is null. */
        Path path(String key, String def) {
            String s = string(key, def, "a string (a path)");
            if (s == null || s.isEmpty()) {
                return null;
            }
            try {
                return Path.of(s).toAbsolutePath().normalize();
            } catch (InvalidPathException e) {
                throw error(key, "is not a usable path: " + e.getReason() + ", got " + new Toml.Str(s).show());
            }
        }

        HostPort hostPort(String key, String def, int minPort) {
            String s = string(key, def, "a string \"host:port\"");
            try {
                return HostPort.parse(s, minPort);
            } catch (IllegalArgumentException e) {
                throw error(key, "must be \"host:port\" (" + e.getMessage() + "), got " + new Toml.Str(s).show());
            }
        }

        /** The host name rules of task hosts ({@link TaskSpec#checkHost}), reported at this key's line. */
        void checkHost(String key, String host) {
            try {
                TaskSpec.checkHost(host);
            } catch (InvalidTask e) {
                throw error(key, "is not a usable host name: " + e.getMessage());
            }
        }

        /** Absent: an empty list. */
        List<String> strings(String key) {
            var v = value(key);
            if (v == null) {
                return List.of();
            }
            if (v instanceof Toml.Arr(List<Toml.Value> items)) {
                var out = new ArrayList<String>();
                for (var item : items) {
                    if (!(item instanceof Toml.Str(String s))) {
                        throw error(key, "must be an array of strings, got " + v.show());
                    }
                    out.add(s);
                }
                return List.copyOf(out);
            }
            throw error(key, "must be an array of strings, got " + v.show());
        }

        /** Every key of the section as a secret string (user = "password"), in file order. */
        Map<String, String> secrets() {
            var out = new LinkedHashMap<String, String>();
            if (table != null) {
                for (String key : table.entries().keySet()) {
                    out.put(key, secret(key, ""));
                }
            }
            return Collections.unmodifiableMap(out);
        }

        private Toml.Value value(String key) {
            var e = entry(key);
            return e == null ? null : e.value();
        }

        private Toml.Entry entry(String key) {
            known.computeIfAbsent(name, n -> new LinkedHashSet<>()).add(key);
            return table == null ? null : table.entries().get(key);
        }

        private static String quoted(List<String> values) {
            return String.join(", ", values.stream().map(v -> "\"" + v + "\"").toList());
        }
    }
}
