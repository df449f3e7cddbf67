package ibex.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CommandTest {
    @Test
    void args_splitOnDoubleCommas_orComeAsAJsonArray() {
        assertEquals(List.of(), Command.args(""));
        assertEquals(List.of("a", "b c", ""), Command.args("a,,b c,,"));
        assertEquals(List.of("x'y", "$(z)"), Command.args("[\"x'y\", \"$(z)\"]"));
        assertEquals(List.of("[not json"), Command.args("[not json"));
    }

    @Test
    void wrapped_isTheConstantWrapper_withTheCommandAndExitFileAsParameters() {
        var cmd = Command.wrapped(List.of("/m/1/script", "a b", "$(x)"), Path.of("/m/1/9.run"));
        assertEquals(List.of("/bin/sh", "-c", Command.WRAP, "/m/1/script", "/m/1/9.run", "a b", "$(x)"), cmd);
        assertEquals(Optional.of("/m/1/9.run"), Command.runFileOf(cmd));
        assertEquals(Optional.empty(), Command.runFileOf(List.of("/bin/sh", "-c", "echo hi", "x", "/m/1/9.run")));
        assertFalse(Command.WRAP.contains("/m/"), "nothing from the task is in the shell text");
    }

    @Test
    void asAccount_entersTheAccountWithAConstantLoginShellCommand() {
        var cmd = Command.asAccount(new Command.Account("nobody", 65534, 65534, Path.of("/nonexistent")),
                Path.of("/m/1/script"), List.of("; rm -rf /"));
        assertEquals(List.of("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--init-groups", "--reset-env",
                "/bin/sh", "-l", "-c", Command.LOGIN_EXEC, "/m/1/script", "; rm -rf /"), cmd);
    }

    @Test
    void accountNames_areChecked_andLookedUpInTheUserDatabase() throws Exception {
        assertTrue(Command.validAccountName("www-data"));
        assertTrue(Command.validAccountName("machine$"));
        assertFalse(Command.validAccountName("-rf"));
        assertFalse(Command.validAccountName("a b"));
        assertEquals(Optional.of(new Command.Account("nobody", 65534, 65534, Path.of("/nonexistent"))), Command.lookup("nobody"));
        assertEquals(Optional.empty(), Command.lookup("ibex-no-such-user"));
    }
}
