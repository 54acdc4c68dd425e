package hyperlab.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import java.util.List;

/** Global-norm gradient clipping and resetting, over all of a model's gradients at once. */
public final class Gradients {
    private Gradients() {}

    /** ‖g‖₂ over every element of every tensor, squares summed in float32 per tensor and in double across tensors. */
    public static double globalNorm(List<NDArray> grads) {
        double sum = 0;
        for (NDArray g : grads) sum += g.toType(DataType.FLOAT32, false).square().sum().getFloat();
        return Math.sqrt(sum);
    }

    /** Scales every gradient by maxNorm / norm when norm exceeds maxNorm (maxNorm 0 = off); returns the factor used. */
    public static double clip(List<NDArray> grads, double norm, double maxNorm) {
        if (maxNorm <= 0 || norm <= maxNorm) return 1;
        double scale = maxNorm / (norm + 1e-6);
        for (NDArray g : grads) g.muli(scale);
        return scale;
    }

    /** Sets gradients to exactly 0 (also NaN ones: multiplying by 0 would keep them NaN); PyTorch accumulates otherwise. */
    public static void zero(List<NDArray> grads) {
        for (NDArray g : grads) g.set(new NDIndex("..."), 0);
    }
}
