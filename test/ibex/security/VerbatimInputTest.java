package ibex.security;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.eclipsesource.json.JsonArray;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code args} and {@code stdin} full of shell metacharacters reach the script verbatim: the script
 * prints each argument between angle brackets, one per line, then its stdin, and the test compares
 * the output byte for byte. Canary files prove no substitution ran anywhere on the way, in the
 * agent's own account and (as root) through the account switch's login shell.
 */
class VerbatimInputTest {
    static final String SCRIPT = "#!/bin/sh\nfor a in \"$@\"; do printf '<%s>\\n' \"$a\"; done\nprintf '%s\\n' '--stdin--'\ncat\n";
    static SecureServer s;
    static Path canaries;

    @BeforeAll
    static void start() throws IOException {
        s = SecureServer.start(SecureServer.Options.token());
        // the account-switch case runs the script as nobody, who must reach MetaDir
        Files.setPosixFilePermissions(s.dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        canaries = Files.createDirectories(s.dir.resolve("canaries"));
        s.agent("verbatim-1");
    }

    @AfterAll
    static void stop() {
        if (s != null) {
            s.close();
        }
    }

    /** Arguments no shell may touch: substitutions, separators, quotes, globs, newlines, options. */
    static List<String> hostileArgs(String tag) {
        var c = canaries.resolve(tag + "-");
        return List.of("$(touch " + c + "dollar)", "`touch " + c + "backtick`", "a; touch " + c + "semicolon", "x | touch " + c + "pipe",
                "y && touch " + c + "and", "z || touch " + c + "or", "> " + c + "redirect", "it's", "say \"hi\"", "'single' \"double\"",
                "line1\nline2", "trailing newline\n", "*", "/*", "?", "[a-z]*", "$HOME", "${PATH}", "$1", "$@", "\\", "\\n", "-n", "--", "-e",
                " leading and trailing ", "tab\there", "!", "~", "#comment", "%s%n%d", "$((1+1))", "{a,b}", "é€😀", "\r",
                "", "semi;colon;", "&", "(subshell)");
    }

    static String expected(List<String> args, String stdin) {
        var sb = new StringBuilder();
        for (var a : args) {
            sb.append('<').append(a).append(">\n");
        }
        return sb.append("--stdin--\n").append(stdin).toString();
    }

    static final String STDIN = "$(touch CANARY)\n`touch CANARY`\n; | & * ? ' \" \\ $HOME\n\n<<EOF\nEOF\n\u00e9\u20ac\ud83d\ude00 no newline at the end";

    private void runVerbatim(String account, String form, String tag) throws IOException {
        var args = hostileArgs(tag);
        String raw;
        if (form.equals("json")) {
            var a = new JsonArray();
            args.forEach(a::add);
            a.add("x,,y");   // in the JSON form ",," is just text
            raw = a.toString();
            args = new ArrayList<>(args);
            args.add("x,,y");
        } else {
            raw = String.join(",,", args);
        }
        String stdin = STDIN.replace("CANARY", canaries.resolve(tag + "-stdin").toString());
        long id = s.create(SecureServer.task("verbatim-1").set("action", "start").set("account", account).set("script", SCRIPT)
                .set("args", raw).set("stdin", stdin));
        var done = s.awaitDone(id);
        String path = "/ibex/v1/task/" + id + "/host/verbatim-1/";
        assertEquals("success", SecureServer.statusOf(done, "verbatim-1"), () -> s.get(path + "stderr").body());
        assertEquals(expected(args, stdin), s.get(path + "stdout").dat().asString());
        assertEquals("", s.get(path + "stderr").dat().asString());
        try (var left = Files.list(canaries)) {
            assertEquals(List.of(), left.map(p -> p.getFileName().toString()).toList(), "a substitution ran");
        }
        assertFalse(Files.exists(Path.of("CANARY")));
    }

    @Test
    void hostileArgsAndStdin_inTheCommaCommaForm_reachTheScriptVerbatim() throws IOException {
        runVerbatim(System.getProperty("user.name"), "commas", "commas");
    }

    @Test
    void hostileArgsAndStdin_inTheJsonArrayForm_reachTheScriptVerbatim() throws IOException {
        runVerbatim(System.getProperty("user.name"), "json", "json");
    }

    @Test
    void hostileArgsAndStdin_throughTheAccountSwitchLoginShell_reachTheScriptVerbatim() throws IOException {
        assumeTrue("root".equals(System.getProperty("user.name")), "the account switch needs an agent running as root");
        runVerbatim("nobody", "commas", "nobody-commas");
        runVerbatim("nobody", "json", "nobody-json");
    }

    @Test
    void anAccountNameWithShellSyntax_isRefused_beforeAnythingRuns() {
        for (var account : List.of("root;id", "$(id)", "`id`", "a b", "-o", "../x", "nobody'", "ro ot")) {
            var r = s.post("/ibex/v1/tasks", SecureServer.task("verbatim-1").set("action", "start").set("account", account).toString());
            assertEquals(200, r.status(), r::toString);
            assertEquals("arg(account) '" + account + "' is not a valid user name", r.err());
        }
    }
}
