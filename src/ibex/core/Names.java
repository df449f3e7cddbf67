package ibex.core;

import java.util.Locale;
import java.util.Optional;

/** The stored and served names of our enums: their constant names in lower case. */
final class Names {
    private Names() {
        throw new AssertionError();
    }

    static String of(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT);
    }

    static <E extends Enum<E>> Optional<E> parse(E[] values, String s) {
        for (var v : values) {
            if (of(v).equals(s)) {
                return Optional.of(v);
            }
        }
        return Optional.empty();
    }
}
