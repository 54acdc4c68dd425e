package hyperlab.cuda;

/**
 * What cuBLASLt applies to the product before storing it (bias has one value per output column). GELU is the tanh form.
 * BIAS_GRAD leaves the product alone and writes the bias gradient Σ_k op(a)[i, k], one value per row i of the output,
 * into the bias buffer: a weight gradient dW = dYᵀ·X then yields the bias's dY column sums from the same reads of dY
 * (cuBLASLt's BGRADB, since a is its B operand).
 */
public enum Epilogue {
    NONE(1), RELU(2), BIAS(4), RELU_BIAS(6), GELU(32), GELU_BIAS(36), BIAS_GRAD(512);

    final int code;

    Epilogue(int code) {
        this.code = code;
    }

    boolean needsBias() {
        return this == BIAS || this == RELU_BIAS || this == GELU_BIAS || this == BIAS_GRAD;
    }
}
