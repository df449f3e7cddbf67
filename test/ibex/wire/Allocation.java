package ibex.wire;

import java.lang.management.ManagementFactory;

/** Bytes allocated by the current thread, for tests that check "fails before allocating". */
final class Allocation {
    private Allocation() {
    }

    static long threadBytes() {
        var bean = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        return bean.getCurrentThreadAllocatedBytes();
    }
}
