package hyperlab.diag;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.ParameterStore;
import hyperlab.nn.Gpt;
import java.util.List;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * How alike the n residual streams are, per layer: the mean pairwise cosine similarity of the streams
 * of each token. Near 1 means the streams collapsed into copies of one (the extra width is wasted);
 * lower means they carry different features (HC paper §4, "representation collapse").
 */
public final class StreamSimilarity {
    private StreamSimilarity() {}

    /**
     * Mean over the n(n−1)/2 pairs i &lt; j of cos(x_i, x_j), in float64; rows are streams. A pair with
     * a zero stream has no direction, so the result is then NaN.
     */
    public static double meanPairwiseCosine(double[][] streams) {
        int n = streams.length;
        if (n < 2) throw new IllegalArgumentException(n + " stream(s): similarity needs at least 2 (a model with streams ≥ 2)");
        double[] norm = new double[n];
        for (int i = 0; i < n; i++) norm[i] = Math.sqrt(dot(streams[i], streams[i]));
        double sum = 0;
        for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) sum += dot(streams[i], streams[j]) / (norm[i] * norm[j]);
        return sum / (n * (n - 1) / 2.0);
    }

    /**
     * One row per point of the stream (0 = the embedding's copies, then after each block): the mean and
     * the minimum over the batch's tokens of {@link #meanPairwiseCosine}, and the mean stream norm.
     */
    public static Table of(Gpt model, NDArray ids) {
        int n = model.config().streams();
        if (n < 2)
            throw new IllegalArgumentException("streams = " + n + " (paradigm " + model.config().paradigm().key()
                    + "): one stream has nothing to be similar to; diagnose a model with streams ≥ 2");
        List<NDArray> points = model.streams(new ParameterStore(ids.getManager(), false), ids);
        Table t = Table.create("Stream similarity: " + model.config().paradigm().key() + ", n = " + n,
                IntColumn.create("point"), StringColumn.create("after"),
                DoubleColumn.create("mean cos"), DoubleColumn.create("min cos"), DoubleColumn.create("mean ‖x_i‖"));
        for (int p = 0; p < points.size(); p++) {
            double[][][] tokens = perToken(points.get(p));
            double sum = 0, min = Double.POSITIVE_INFINITY, norms = 0;
            for (double[][] x : tokens) {
                double c = meanPairwiseCosine(x);
                sum += c;
                min = Math.min(min, c);
                for (double[] s : x) norms += Math.sqrt(dot(s, s));
            }
            t.intColumn("point").append(p);
            t.stringColumn("after").append(p == 0 ? "embedding" : (p % 2 == 1 ? "attn " : "mlp ") + (p - 1) / 2);
            t.doubleColumn("mean cos").append(sum / tokens.length);
            t.doubleColumn("min cos").append(min);
            t.doubleColumn("mean ‖x_i‖").append(norms / (tokens.length * (double) tokens[0].length));
        }
        return t;
    }

    /** (B, T, n, C) → [token][stream][channel] in float64. */
    static double[][][] perToken(NDArray x) {
        Shape s = x.getShape();
        int n = (int) s.get(s.dimension() - 2), c = (int) s.get(s.dimension() - 1);
        double[] flat = x.toType(DataType.FLOAT64, false).toDoubleArray();
        int tokens = flat.length / (n * c);
        double[][][] out = new double[tokens][n][c];
        for (int k = 0; k < tokens; k++) for (int i = 0; i < n; i++) System.arraycopy(flat, (k * n + i) * c, out[k][i], 0, c);
        return out;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }
}
