package hyperlab.nn;

import ai.djl.ndarray.NDArray;

/**
 * x·c and x/c with a constant c that PyTorch owns. DJL's {@code mul(Number)} and {@code div(Number)}
 * wrap c around a Java direct buffer and close it straight after the op; autograd keeps c for the
 * backward pass, and once the GC frees that buffer the gradients read freed memory (NaN or a wrong
 * value, depending on when the GC ran). A copy made by PyTorch lives as long as autograd needs it.
 */
final class Scalars {
    private Scalars() {}

    static NDArray mul(NDArray x, double c) {
        try (NDArray s = owned(x, c)) {
            return x.mul(s);
        }
    }

    static NDArray div(NDArray x, double c) {
        try (NDArray s = owned(x, c)) {
            return x.div(s);
        }
    }

    /** c in x's type, in memory PyTorch allocated (toType with copy = true), so closing the Java handle is safe. */
    private static NDArray owned(NDArray x, double c) {
        try (NDArray boxed = x.getManager().create(c)) {
            return boxed.toType(x.getDataType(), true);
        }
    }
}
