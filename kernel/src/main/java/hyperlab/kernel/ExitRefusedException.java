package hyperlab.kernel;

/** Thrown instead of exiting the JVM when a cell calls System.exit: the kernel process must survive. */
public final class ExitRefusedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    ExitRefusedException(int status) {
        super("System.exit(" + status + ") was refused: it would end the kernel. "
                + "Use the notebook's Restart to start afresh.");
    }
}
