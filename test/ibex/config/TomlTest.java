package ibex.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class TomlTest {

    private static Toml.Doc parse(String text) {
        return Toml.parse("t.conf", text);
    }

    private static void assertError(String message, String text) {
        var e = assertThrows(ConfigException.class, () -> parse(text));
        assertEquals(message, e.getMessage());
    }

    private static TomlValue value(Toml.Doc doc, String section, String key) {
        return doc.tables().get(section).entries().get(key).value();
    }

    @Test
    void subset_readsEveryValueKind_withItsLine() {
        var doc = parse("""
                # comment
                Top = 'lit\\eral'   # trailing comment
                [S]
                Str = "a\\"b\\\\c\\n\\t\\u00e9 # not a comment"
                Int = -1_000
                Yes = true
                No = false
                "quoted key" = ""
                bare-key_2 = 0
                List = [
                  "a",  # first
                  'b',
                ]
                Ints = [1, 2]
                Empty = []
                """);
        assertEquals(new TomlValue.Str("lit\\eral"), value(doc, "", "Top"));
        assertEquals(new TomlValue.Str("a\"b\\c\n\té # not a comment"), value(doc, "S", "Str"));
        assertEquals(new TomlValue.Int(-1000), value(doc, "S", "Int"));
        assertEquals(new TomlValue.Bool(true), value(doc, "S", "Yes"));
        assertEquals(new TomlValue.Bool(false), value(doc, "S", "No"));
        assertEquals(new TomlValue.Str(""), value(doc, "S", "quoted key"));
        assertEquals(new TomlValue.Int(0), value(doc, "S", "bare-key_2"));
        assertEquals(new TomlValue.Arr(List.of(new TomlValue.Str("a"), new TomlValue.Str("b"))), value(doc, "S", "List"));
        assertEquals(new TomlValue.Arr(List.of(new TomlValue.Int(1), new TomlValue.Int(2))), value(doc, "S", "Ints"));
        assertEquals(new TomlValue.Arr(List.of()), value(doc, "S", "Empty"));
        assertEquals(3, doc.tables().get("S").line());
        assertEquals(10, doc.tables().get("S").entries().get("List").line());
        assertEquals(14, doc.tables().get("S").entries().get("Ints").line());
    }

    @Test
    void crlfAndByteOrderMark_areAccepted() {
        var doc = Toml.parse("t.conf", "\uFEFFA = 1\r\n[S]\r\nB = 2\r\n".getBytes(StandardCharsets.UTF_8));
        assertEquals(new TomlValue.Int(2), value(doc, "S", "B"));
        assertEquals(3, doc.tables().get("S").entries().get("B").line());
    }

    @Test
    void unterminatedString_stopsWithFileAndLine() {
        assertError("t.conf:2: unterminated string: missing closing \"", "[S]\nA = \"abc\nB = 1\n");
        assertError("t.conf:1: unterminated string: missing closing '", "A = 'abc");
    }

    @Test
    void duplicateKey_namesTheFirstLine() {
        assertError("t.conf:4: duplicate key 'Port' in [HTTP] (first on line 2)", "[HTTP]\nPort = 1\n\nPort = 2\n");
        assertError("t.conf:2: duplicate key 'A' (first on line 1)", "A = 1\nA = 2\n");
    }

    @Test
    void duplicateSection_namesTheFirstLine() {
        assertError("t.conf:3: duplicate section [S] (first on line 1)", "[S]\nA = 1\n[S]\n");
    }

    @Test
    void unsupportedToml_isNamedNotGuessed() {
        assertError("t.conf:1: not a valid integer: 1.5 (only decimal integers; no floats, dates or hex)", "A = 1.5");
        assertError("t.conf:1: not a valid integer: 0x10 (only decimal integers; no floats, dates or hex)", "A = 0x10");
        assertError("t.conf:1: leading zeros are not allowed in integers, got 007", "A = 007");
        assertError("t.conf:1: integer out of range, got 9223372036854775808", "A = 9223372036854775808");
        assertError("t.conf:1: multi-line strings are not supported", "A = \"\"\"x\"\"\"");
        assertError("t.conf:1: inline tables are not supported", "A = { b = 1 }");
        assertError("t.conf:1: nested arrays are not supported", "A = [[1]]");
        assertError("t.conf:1: dotted keys are not supported: a.", "a.b = 1");
        assertError("t.conf:1: dotted section names are not supported: [a.", "[a.b]");
        assertError("t.conf:1: arrays of tables [[...]] are not supported", "[[a]]");
        assertError("t.conf:1: quoted section names are not supported", "[\"a\"]");
    }

    @Test
    void malformedLines_sayWhatIsWrong() {
        assertError("t.conf:2: expected '=' after key 'Port', got '1'", "\nPort 1");
        assertError("t.conf:1: missing value for 'Port'", "Port =   # nothing");
        assertError("t.conf:1: the value of 'Host' must be a \"string\", an integer, true, false or an [array],"
                + " got localhost (strings need quotes)", "Host = localhost");
        assertError("t.conf:1: unexpected 'x' after the value of 'A'", "A = 1 x");
        assertError("t.conf:1: unexpected 'x' after [S]", "[S] x");
        assertError("t.conf:1: expected key = value or [Section], got '='", "= 1");
        assertError("t.conf:1: expected ']' to close [S, got the end of the file", "[S");
        assertError("t.conf:1: the array of 'A' is not closed with ']'", "A = [\"a\",\n\"b\"\n");
        assertError("t.conf:1: expected ',' or ']' in the array of 'A', got '\"'", "A = [\"a\" \"b\"]");
        assertError("t.conf:1: unknown escape \\'x' in string (known: \\\" \\\\ \\n \\t \\r \\uXXXX)", "A = \"\\x\"");
        assertError("t.conf:1: \\u needs 4 hex digits", "A = \"\\u12\"");
        assertError("t.conf:1: escape \\uD800 is not a Unicode scalar value", "A = \"\\uD800\"");
        assertError("t.conf:1: control character U+0001 in string (write it as an escape)", "A = \"\u0001\"");
    }

    @Test
    void invalidUtf8_namesTheLine() {
        var e = assertThrows(ConfigException.class,
                () -> Toml.parse("t.conf", new byte[] {'A', '=', '1', '\n', '#', (byte) 0xC3, '\n'}));
        assertEquals("t.conf:2: not UTF-8 text (byte 5)", e.getMessage());
    }
}
