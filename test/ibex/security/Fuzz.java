package ibex.security;

/**
 * Iteration counts and seeds of the fuzz tests: a CI default each test names, or what
 * {@code make fuzz} passes ({@code -Dibex.fuzz.iterations=N}, optionally {@code -Dibex.fuzz.seed=S}).
 */
final class Fuzz {
    private Fuzz() {
        throw new AssertionError();
    }

    /** {@code ciDefault}, or the system property when it is set (never fewer than the default). */
    static int iterations(int ciDefault) {
        var v = System.getProperty("ibex.fuzz.iterations");
        if (v == null || v.isBlank()) {
            return ciDefault;
        }
        return Math.max(ciDefault, Integer.parseInt(v.strip()));
    }

    /** The fixed seed of a test, unless the property asks for another. */
    static long seed(long fixed) {
        var v = System.getProperty("ibex.fuzz.seed");
        return v == null || v.isBlank() ? fixed : Long.parseLong(v.strip());
    }
}
