package ibex.config;

import ibex.core.InvalidTask;
import ibex.core.TaskSpec;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Typed, checked reading of a parsed file against a key table. The table says which keys each section
 * has; the getters say what type and range each must be. So adding a key is one line in the table, one
 * getter call and a record field.
 *
 * <p>Keys are checked against the table before any value is read: a misspelt key often causes a
 * later error ("Servers must list at least one server" after {@code Server = [...]}), and the
 * misspelling is the message the user needs. Keys of the original ibex that this one does not use are
 * not errors: {@link #warnings} names them all in one line.
 */
final class Bind {
    /** The original-only table's marker for "every key of this section". */
    static final Set<String> WHOLE_SECTION = Set.of("*");
    /** The key table's marker for a section whose keys are data ([BasicAuth] user names). */
    static final List<String> ANY_KEY = List.of("*");

    private final Toml.Doc doc;
    private final Map<String, List<String>> keys;
    private final Map<String, Set<String>> originalOnly;
    private final Set<String> unused = new HashSet<>();

    /**
     * @param keys         section ("" = top level) to its keys, in the order messages list them
     * @param originalOnly section to the original's keys that are accepted and ignored
     * @throws ConfigException at the first key or section in neither table
     */
    Bind(Toml.Doc doc, Map<String, List<String>> keys, Map<String, Set<String>> originalOnly) {
        this.doc = doc;
        this.keys = keys;
        this.originalOnly = originalOnly;
        for (var table : doc.tables().values()) {
            String name = table.name();
            var known = keys.get(name);
            var original = originalOnly.getOrDefault(name, Set.of());
            if (original.equals(WHOLE_SECTION) || ANY_KEY.equals(known)) {
                continue;
            }
            if (known == null) {
                var sections = new ArrayList<>(keys.keySet());
                sections.remove("");
                throw ConfigException.at(file(), table.line(), "unknown section [" + name + "] (known: " + list(sections) + ")");
            }
            for (var e : table.entries().values()) {
                if (!known.contains(e.key()) && !original.contains(e.key())) {
                    throw ConfigException.at(file(), e.line(), "unknown " + (name.isEmpty() ? "top-level key '" + e.key() + "'"
                            : "key '" + e.key() + "' in [" + name + "]") + " (known: " + list(known) + ")");
                }
            }
        }
    }

    /** The key table in the order given (Map.of would lose it, and messages list sections in order). */
    @SafeVarargs
    static Map<String, List<String>> table(Map.Entry<String, List<String>>... sections) {
        var out = new LinkedHashMap<String, List<String>>();
        for (var s : sections) {
            out.put(s.getKey(), s.getValue());
        }
        return Collections.unmodifiableMap(out);
    }

    String file() {
        return doc.file();
    }

    boolean present(String section) {
        return doc.tables().containsKey(section);
    }

    Section section(String name) {
        if (!keys.containsKey(name)) {
            throw new IllegalStateException("config key table has no section [" + name + "]");
        }
        return new Section(name, doc.tables().get(name));
    }

    /** A section this load does not use after all (say [MySQL] when DSN is set): its keys go to the warning. */
    void unused(String section) {
        unused.add(section);
    }

    /** None, or one line naming every key of the original ibex that this load ignores, in file order. */
    List<String> warnings() {
        var ignored = new ArrayList<String>();
        for (var table : doc.tables().values()) {
            String name = table.name();
            var original = originalOnly.getOrDefault(name, Set.of());
            boolean whole = unused.contains(name) || original.equals(WHOLE_SECTION);
            if (whole && table.entries().isEmpty()) {
                ignored.add("[" + name + "]");
            }
            for (var e : table.entries().values()) {
                if (whole || (original.contains(e.key()) && !keys.get(name).contains(e.key()))) {
                    ignored.add(label(name, e.key()));
                }
            }
        }
        return ignored.isEmpty() ? List.of() : List.of(file()
                + ": ignoring keys of the original ibex that this ibex does not use: " + String.join(", ", ignored));
    }

    private static String list(List<String> names) {
        return names.isEmpty() ? "none" : String.join(", ", names);
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
            if (v instanceof TomlValue.Str(String s)) {
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
            if (v instanceof TomlValue.Str(String s)) {
                return s;
            }
            throw error(key, "must be a string, got " + v.kind());
        }

        String oneOf(String key, String def, List<String> allowed) {
            String s = string(key, def, "one of " + quoted(allowed));
            if (!allowed.contains(s)) {
                throw error(key, "must be one of " + quoted(allowed) + ", got " + new TomlValue.Str(s).show());
            }
            return s;
        }

        int integer(String key, int def, int min, int max) {
            var v = value(key);
            if (v == null) {
                return def;
            }
            if (!(v instanceof TomlValue.Int(long n))) {
                throw error(key, "must be an integer, got " + v.show());
            }
            if (n < min || n > max) {
                throw error(key, "must be " + min + ".." + max + ", got " + n);
            }
            return (int) n;
        }

        boolean bool(String key, boolean def) {
            var v = value(key);
            if (v == null) {
                return def;
            }
            if (!(v instanceof TomlValue.Bool(boolean b))) {
                throw error(key, "must be true or false, got " + v.show());
            }
            return b;
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
                throw error(key, "is not a usable path: " + e.getReason() + ", got " + new TomlValue.Str(s).show());
            }
        }

        HostPort hostPort(String key, String def, int minPort) {
            String s = string(key, def, "a string \"host:port\"");
            try {
                return HostPort.parse(s, minPort);
            } catch (IllegalArgumentException e) {
                throw error(key, "must be \"host:port\" (" + e.getMessage() + "), got " + new TomlValue.Str(s).show());
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
            if (v instanceof TomlValue.Arr(List<TomlValue> items)) {
                var out = new ArrayList<String>();
                for (var item : items) {
                    if (!(item instanceof TomlValue.Str(String s))) {
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

        private TomlValue value(String key) {
            var e = entry(key);
            return e == null ? null : e.value();
        }

        private Toml.Entry entry(String key) {
            if (!keys.get(name).contains(key) && !keys.get(name).equals(ANY_KEY)) {
                throw new IllegalStateException("config key table has no key " + label(name, key));
            }
            return table == null ? null : table.entries().get(key);
        }

        private static String quoted(List<String> values) {
            return String.join(", ", values.stream().map(v -> "\"" + v + "\"").toList());
        }
    }
}
