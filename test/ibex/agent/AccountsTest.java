package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Scripts run as the task's account with its login environment (issue 4 §6). Needs root. */
class AccountsTest {
    private static Harness h;

    @BeforeAll
    static void start() throws Exception {
        Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "run-as needs an agent running as root");
        h = new Harness();
        h.agent("acct-1", "");
    }

    @AfterAll
    static void stop() {
        if (h != null) {
            h.close();
        }
    }

    @Test
    void nobody_runsWithNobodysLoginEnvironment_andTheScriptIsNobodysAlone() {
        long id = h.task("""
                #!/bin/sh
                id -un
                echo "HOME=$HOME USER=$USER LOGNAME=$LOGNAME"
                pwd
                stat -c '%U %a' "$0"
                ls "$(dirname "$0")" >/dev/null 2>&1 && echo listed || echo "cannot list"
                cat "$(dirname "$0")/stdin" >/dev/null 2>&1 && echo "read stdin" || echo "cannot read stdin"
                echo "PATH=$PATH"
                env | cut -d= -f1 | sort | tr '\\n' ' ' >&2
                """, "nobody", 0, "acct-1");
        var end = h.awaitEnd(id, "acct-1", Duration.ofSeconds(20));
        assertEquals("success", end.getString("status", ""), end::toString);
        var lines = end.getString("stdout", "").split("\n");
        assertEquals("nobody", lines[0]);
        assertEquals("HOME=/nonexistent USER=nobody LOGNAME=nobody", lines[1]);
        assertEquals("/", lines[2], "home is missing, so / (su - would stay where it was)");
        assertEquals("nobody 700", lines[3], "the script belongs to the account, mode 0700");
        assertEquals("cannot list", lines[4], "the task directory can be passed through, not listed");
        assertEquals("cannot read stdin", lines[5], "the task's other files stay the agent's");
        assertTrue(lines[6].startsWith("PATH=") && lines[6].contains("/usr/bin"), lines[6]);
        // The login environment, not the agent's: none of this JVM's own variables reach the script.
        var names = Set.of(end.getString("stderr", "").strip().split(" "));
        var allowed = Set.of("HOME", "USER", "LOGNAME", "PATH", "SHELL", "PWD", "OLDPWD", "TERM", "MAIL", "LANG", "SHLVL", "_");
        for (var name : System.getenv().keySet()) {
            assertTrue(allowed.contains(name) || !names.contains(name), "the agent's " + name + " leaked into " + names);
        }
    }

    @Test
    void unknownAccount_failsTheHost_namingTheAccount() {
        long id = h.task("#!/bin/sh\necho never\n", "ibex-no-such-user", 0, "acct-1");
        var end = h.awaitEnd(id, "acct-1", Duration.ofSeconds(20));
        assertEquals("failed", end.getString("status", ""));
        assertEquals("", end.getString("stdout", ""));
        assertEquals("ibex: account 'ibex-no-such-user' does not exist on this host\n", end.getString("stderr", ""));
    }

    @Test
    void agentThatIsNotRoot_refusesAnotherAccount_andRunsItsOwn() throws Exception {
        var meta = h.meta("acct-nobody");
        Files.createDirectories(meta);
        var nobody = meta.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
        Files.setOwner(meta, nobody);
        h.agentProcess(List.of("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"), "acct-nobody", "", null);
        long other = h.task("#!/bin/sh\necho never\n", "root", 0, "acct-nobody");
        long own = h.task("#!/bin/sh\nid -un\n", "nobody", 0, "acct-nobody");
        var refused = h.awaitEnd(other, "acct-nobody", Duration.ofSeconds(30));
        assertEquals("failed", refused.getString("status", ""), refused::toString);
        assertEquals("ibex: cannot run as account 'root': the agent runs as 'nobody', not root, so it can run scripts only"
                + " as 'nobody'\n", refused.getString("stderr", ""));
        var ran = h.awaitEnd(own, "acct-nobody", Duration.ofSeconds(30));
        assertEquals("success", ran.getString("status", ""), ran::toString);
        assertEquals("nobody\n", ran.getString("stdout", ""));
        assertFalse(h.log("acct-nobody").contains("ERROR"), h.log("acct-nobody"));
    }
}
