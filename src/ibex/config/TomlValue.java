package ibex.config;

import java.util.List;

/** A value of the TOML subset ({@link Toml}), and how messages show what a file held. */
sealed interface TomlValue permits TomlValue.Str, TomlValue.Int, TomlValue.Bool, TomlValue.Arr {
    /** "a string", "an integer"...: for messages about keys whose value must not be shown. */
    String kind();

    /** The value as TOML, shortened: the "got ..." of a message. */
    String show();

    record Str(String s) implements TomlValue {
        public String kind() { return "a string"; }

        public String show() {
            var b = new StringBuilder("\"");
            for (char c : shorten(s).toCharArray()) {
                switch (c) {
                    case '"' -> b.append("\\\"");
                    case '\\' -> b.append("\\\\");
                    default -> b.append(c < ' ' || c == 0x7f ? String.format("\\u%04X", (int) c) : String.valueOf(c));
                }
            }
            return b.append('"').toString();
        }
    }

    record Int(long v) implements TomlValue {
        public String kind() { return "an integer"; }

        public String show() { return Long.toString(v); }
    }

    record Bool(boolean b) implements TomlValue {
        public String kind() { return "a boolean"; }

        public String show() { return Boolean.toString(b); }
    }

    record Arr(List<TomlValue> items) implements TomlValue {
        public String kind() { return "an array"; }

        public String show() { return shorten(items.stream().map(TomlValue::show).toList().toString()); }
    }

    /** A character as a message can show it: printable ASCII quoted, anything else as U+XXXX. */
    static String show(char c) {
        return c > ' ' && c < 0x7f ? "'" + c + "'" : String.format("U+%04X", (int) c);
    }

    /** An unquoted word from the file, shortened, its control characters made visible. */
    static String word(String text) {
        var b = new StringBuilder();
        for (char c : shorten(text).toCharArray()) {
            b.append(c < ' ' || c == 0x7f ? String.format("U+%04X", (int) c) : String.valueOf(c));
        }
        return b.toString();
    }

    static String shorten(String text) {
        return text.length() <= 60 ? text : text.substring(0, 57) + "...";
    }
}
