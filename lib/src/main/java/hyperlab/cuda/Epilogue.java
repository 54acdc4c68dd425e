package hyperlab.cuda;

/** What cuBLASLt applies to the product before storing it (bias has one value per output column). GELU is the tanh form. */
public enum Epilogue {
    NONE(1), RELU(2), BIAS(4), RELU_BIAS(6), GELU(32), GELU_BIAS(36);

    final int code;

    Epilogue(int code) {
        this.code = code;
    }

    boolean needsBias() {
        return this == BIAS || this == RELU_BIAS || this == GELU_BIAS;
    }
}
