package hyperlab.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** Next-token cross-entropy in float32: mean over all positions of −log softmax(logits)[target]. */
public final class Loss {
    private Loss() {}

    /** logits (B, T, V), targets (B, T) integer ids → a scalar. */
    public static NDArray crossEntropy(NDArray logits, NDArray targets) {
        NDArray logp = logits.toType(DataType.FLOAT32, false).logSoftmax(-1);
        NDArray picked = logp.gather(targets.toType(DataType.INT64, false).expandDims(-1), -1);
        return picked.mean().neg();
    }
}
