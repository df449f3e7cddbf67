package ibex.config;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The TOML subset of ibex config files, read with the line of every key kept for error messages:
 * {@code # comments}, {@code [Section]} headers, {@code key = value} with bare or quoted keys, and values
 * that are basic or literal strings, decimal integers, booleans, or arrays of those (which may span lines).
 * Anything else (floats, dates, inline tables, dotted names, multi-line strings) is an error naming the
 * file and line rather than a guess.
 *
 * <p>One pass over the text and no recursion (arrays do not nest), so every input ends, in time linear
 * in its size, with a {@link Doc} or a {@link ConfigException}; the fuzz test holds it to that.
 * Longer than most files here because each form it refuses gets its own message, not "syntax error".
 */
final class Toml {
    /** Larger than any config file; stops a wrong path (a log, a disk image) from being read whole. */
    static final int MAX_BYTES = 1 << 20;

    /** One {@code key = value}; {@code line} is where the key stands. */
    record Entry(String key, int line, TomlValue value) {}

    /** A section; the top level is the one named "" (line 0). Entries keep file order. */
    record Table(String name, int line, Map<String, Entry> entries) {}

    /** A parsed file; {@code file} is the name as given, the prefix of every message. */
    record Doc(String file, Map<String, Table> tables) {}

    private final String file;
    private final String s;
    private int pos;
    private int line = 1;

    private Toml(String file, String text) {
        this.file = file;
        this.s = text;
    }

    static Doc read(Path path) {
        String file = path.toString();
        byte[] bytes;
        try {
            if (Files.size(path) > MAX_BYTES) {
                throw new ConfigException(file + ": larger than " + MAX_BYTES + " bytes; is this a config file?");
            }
            bytes = Files.readAllBytes(path);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file + ": cannot read: no such file", e);
        } catch (AccessDeniedException e) {
            throw new ConfigException(file + ": cannot read: permission denied", e);
        } catch (IOException e) {
            throw new ConfigException(file + ": cannot read: " + e, e);
        }
        return parse(file, bytes);
    }

    static Doc parse(String file, byte[] bytes) {
        var in = ByteBuffer.wrap(bytes);
        var out = CharBuffer.allocate(bytes.length);
        var result = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT).decode(in, out, true);
        if (result.isError() || result.isOverflow()) {
            int line = 1;
            for (int i = 0; i < in.position(); i++) {
                line += bytes[i] == '\n' ? 1 : 0;
            }
            throw ConfigException.at(file, line, "not UTF-8 text (byte " + in.position() + ")");
        }
        return parse(file, out.flip().toString());
    }

    static Doc parse(String file, String text) {
        return new Toml(file, text).document();
    }

    private Doc document() {
        var tables = new LinkedHashMap<String, Table>();
        var current = new Table("", 0, new LinkedHashMap<>());
        tables.put("", current);
        if (s.startsWith("\uFEFF")) {
            pos = 1;
        }
        while (true) {
            skipBlank();
            if (pos >= s.length()) {
                return new Doc(file, tables);
            }
            int at = line;
            char c = s.charAt(pos);
            if (c == '[') {
                String name = header();
                var first = tables.get(name);
                if (first != null) {
                    throw ConfigException.at(file, at, "duplicate section [" + name + "] (first on line " + first.line() + ")");
                }
                current = new Table(name, at, new LinkedHashMap<>());
                tables.put(name, current);
                endOfLine("after [" + name + "]");
            } else if (c != '#' && c != '\n' && c != '\r') {
                String key = key();
                skipBlank();
                if (pos >= s.length() || s.charAt(pos) != '=') {
                    throw error("expected '=' after key '" + key + "'" + got());
                }
                pos++;
                skipBlank();
                var value = value(key);
                var first = current.entries().get(key);
                if (first != null) {
                    throw ConfigException.at(file, at, "duplicate key '" + key + "'"
                            + (current.name().isEmpty() ? "" : " in [" + current.name() + "]") + " (first on line " + first.line() + ")");
                }
                current.entries().put(key, new Entry(key, at, value));
                endOfLine("after the value of '" + key + "'");
            } else {
                endOfLine("");
            }
        }
    }

    private String header() {
        pos++;
        if (pos < s.length() && s.charAt(pos) == '[') {
            throw error("arrays of tables [[...]] are not supported");
        }
        skipBlank();
        if (pos < s.length() && (s.charAt(pos) == '"' || s.charAt(pos) == '\'')) {
            throw error("quoted section names are not supported");
        }
        String name = bare();
        if (name.isEmpty()) {
            throw error("expected a section name after '['" + got());
        }
        skipBlank();
        if (pos < s.length() && s.charAt(pos) == '.') {
            throw error("dotted section names are not supported: [" + name + ".");
        }
        if (pos >= s.length() || s.charAt(pos) != ']') {
            throw error("expected ']' to close [" + name + got());
        }
        pos++;
        return name;
    }

    private String key() {
        char c = s.charAt(pos);
        String key = c == '"' ? basicString() : c == '\'' ? literalString() : bare();
        if (key.isEmpty()) {
            throw error("expected key = value or [Section]" + got());
        }
        skipBlank();
        if (pos < s.length() && s.charAt(pos) == '.') {
            throw error("dotted keys are not supported: " + key + ".");
        }
        return key;
    }

    private TomlValue value(String key) {
        char c = pos < s.length() ? s.charAt(pos) : '\n';
        if (c == '\n' || c == '\r' || c == '#') {
            throw error("missing value for '" + key + "'");
        }
        if (s.startsWith("\"\"\"", pos) || s.startsWith("'''", pos)) {
            throw error("multi-line strings are not supported");
        }
        if (c == '"') {
            return new TomlValue.Str(basicString());
        }
        if (c == '\'') {
            return new TomlValue.Str(literalString());
        }
        if (c == '[') {
            return array(key);
        }
        if (c == '{') {
            throw error("inline tables are not supported");
        }
        int start = pos;
        while (pos < s.length() && " \t\r\n#,]".indexOf(s.charAt(pos)) < 0) {
            pos++;
        }
        String word = s.substring(start, pos);
        if (word.isEmpty()) {
            throw error("expected a value for '" + key + "'" + got());
        }
        if (word.equals("true") || word.equals("false")) {
            return new TomlValue.Bool(word.equals("true"));
        }
        if ("+-0123456789".indexOf(word.charAt(0)) < 0) {
            throw error("the value of '" + key + "' must be a \"string\", an integer, true, false or an [array], got "
                    + TomlValue.word(word) + " (strings need quotes)");
        }
        return integer(word);
    }

    /** Decimal only, '_' only between digits, no leading zeros: TOML's rules, minus hex/octal/binary. */
    private TomlValue.Int integer(String word) {
        int i = word.charAt(0) == '+' || word.charAt(0) == '-' ? 1 : 0;
        var digits = new StringBuilder(word.substring(0, i));
        boolean ok = i < word.length();
        for (int j = i; ok && j < word.length(); j++) {
            char c = word.charAt(j);
            if (c >= '0' && c <= '9') {
                digits.append(c);
            } else {
                ok = c == '_' && j > i && j + 1 < word.length() && isDigit(word.charAt(j - 1)) && isDigit(word.charAt(j + 1));
            }
        }
        if (ok && word.length() > i + 1 && word.charAt(i) == '0') {
            throw error("leading zeros are not allowed in integers, got " + TomlValue.word(word));
        }
        try {
            if (ok) {
                return new TomlValue.Int(Long.parseLong(digits.toString()));
            }
        } catch (NumberFormatException e) {
            throw error("integer out of range, got " + TomlValue.word(word));
        }
        throw error("not a valid integer: " + TomlValue.word(word) + " (only decimal integers; no floats, dates or hex)");
    }

    private TomlValue.Arr array(String key) {
        int open = line;
        pos++;
        var items = new ArrayList<TomlValue>();
        while (true) {
            skipBlankLines();
            if (pos >= s.length()) {
                throw ConfigException.at(file, open, "the array of '" + key + "' is not closed with ']'");
            }
            if (s.charAt(pos) == ']') {
                pos++;
                return new TomlValue.Arr(List.copyOf(items));
            }
            if (s.charAt(pos) == '[') {
                throw error("nested arrays are not supported");
            }
            items.add(value(key));
            skipBlankLines();
            if (pos >= s.length()) {
                throw ConfigException.at(file, open, "the array of '" + key + "' is not closed with ']'");
            }
            char c = s.charAt(pos);
            if (c == ',') {
                pos++;
            } else if (c != ']') {
                throw error("expected ',' or ']' in the array of '" + key + "'" + got());
            }
        }
    }

    private String basicString() {
        pos++;
        var b = new StringBuilder();
        while (true) {
            char c = pos < s.length() ? s.charAt(pos) : '\n';
            pos++;
            if (c == '"') {
                return b.toString();
            }
            if (c == '\n' || c == '\r') {
                pos--;
                throw error("unterminated string: missing closing \"");
            }
            if (c == '\\') {
                char e = pos < s.length() ? s.charAt(pos) : '\n';
                pos++;
                switch (e) {
                    case '"', '\\' -> b.append(e);
                    case 'n' -> b.append('\n');
                    case 't' -> b.append('\t');
                    case 'r' -> b.append('\r');
                    case 'u' -> b.appendCodePoint(hex(4));
                    case 'U' -> b.appendCodePoint(hex(8));
                    default -> {
                        pos--;
                        throw error("unknown escape \\" + (e == '\n' ? "" : TomlValue.show(e)) + " in string (known: \\\" \\\\ \\n \\t \\r \\uXXXX)");
                    }
                }
            } else {
                b.append(checkText(c));
            }
        }
    }

    private int hex(int n) {
        long v = 0;
        for (int i = 0; i < n; i++) {
            int d = pos < s.length() ? Character.digit(s.charAt(pos), 16) : -1;
            if (d < 0 || s.charAt(pos) > 'f') {
                throw error("\\" + (n == 4 ? "u" : "U") + " needs " + n + " hex digits");
            }
            v = v * 16 + d;
            pos++;
        }
        if (v > Character.MAX_CODE_POINT || (v >= 0xD800 && v <= 0xDFFF)) {
            throw error("escape \\" + (n == 4 ? "u" : "U") + String.format("%0" + n + "X", v) + " is not a Unicode scalar value");
        }
        return (int) v;
    }

    private String literalString() {
        int start = ++pos;
        while (true) {
            char c = pos < s.length() ? s.charAt(pos) : '\n';
            if (c == '\'') {
                return s.substring(start, pos++);
            }
            if (c == '\n' || c == '\r') {
                throw error("unterminated string: missing closing '");
            }
            checkText(c);
            pos++;
        }
    }

    /** TOML strings may hold tab but no other control character. */
    private char checkText(char c) {
        if ((c < ' ' && c != '\t') || c == 0x7f) {
            throw error("control character " + TomlValue.show(c) + " in string (write it as an escape)");
        }
        return c;
    }

    private String bare() {
        int start = pos;
        while (pos < s.length() && isBare(s.charAt(pos))) {
            pos++;
        }
        return s.substring(start, pos);
    }

    /** After a header or a value only a comment may follow on the line. */
    private void endOfLine(String where) {
        skipBlank();
        if (pos < s.length() && s.charAt(pos) == '#') {
            while (pos < s.length() && s.charAt(pos) != '\n') {
                pos++;
            }
        }
        if (pos >= s.length()) {
            return;
        }
        if (s.charAt(pos) == '\n' || s.startsWith("\r\n", pos)) {
            pos += s.charAt(pos) == '\n' ? 1 : 2;
            line++;
            return;
        }
        throw error("unexpected " + TomlValue.show(s.charAt(pos)) + (where.isEmpty() ? "" : " " + where));
    }

    private void skipBlank() {
        while (pos < s.length() && (s.charAt(pos) == ' ' || s.charAt(pos) == '\t')) {
            pos++;
        }
    }

    /** Inside an array: blanks, line ends and comments. */
    private void skipBlankLines() {
        while (pos < s.length()) {
            char c = s.charAt(pos);
            if (c == ' ' || c == '\t') {
                pos++;
            } else if (c == '\n' || s.startsWith("\r\n", pos)) {
                pos += c == '\n' ? 1 : 2;
                line++;
            } else if (c == '#') {
                while (pos < s.length() && s.charAt(pos) != '\n') {
                    pos++;
                }
            } else {
                return;
            }
        }
    }

    private String got() {
        return pos < s.length() ? ", got " + TomlValue.show(s.charAt(pos)) : ", got the end of the file";
    }

    private ConfigException error(String what) {
        return ConfigException.at(file, line, what);
    }

    private static boolean isBare(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || isDigit(c) || c == '_' || c == '-';
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }
}
