package hyperlab.kernel;

/**
 * Static entry points that woven snippet bytecode calls: they must be public because JShell's
 * generated classes live in another package and class loader.
 */
public final class SnippetHooks {

    private static final Object NO_VALUE = new Object();
    private static volatile Object lastValue = NO_VALUE;

    private SnippetHooks() {
    }

    /** Called with every value a snippet's {@code do_it$} returns, so the kernel keeps the real object. */
    public static void capture(Object value) {
        lastValue = value;
    }

    /** Replaces {@code System.exit(status)} in cells: exiting would kill the kernel process. */
    public static void exit(int status) {
        throw new ExitRefusedException(status);
    }

    /**
     * Replaces {@code Runtime.getRuntime().exit(status)} in cells, for the same reason as {@link #exit};
     * {@code runtime} is the receiver the replaced instance call left on the stack.
     */
    public static void runtimeExit(Runtime runtime, int status) {
        throw new ExitRefusedException(status);
    }

    /** Replaces {@code Runtime.getRuntime().halt(status)} in cells, for the same reason as {@link #exit}. */
    public static void runtimeHalt(Runtime runtime, int status) {
        throw new ExitRefusedException(status);
    }

    static void reset() {
        lastValue = NO_VALUE;
    }

    static boolean hasValue() {
        return lastValue != NO_VALUE;
    }

    static Object value() {
        Object v = lastValue;
        return v == NO_VALUE ? null : v;
    }
}
