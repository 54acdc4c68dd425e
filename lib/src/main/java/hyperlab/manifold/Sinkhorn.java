package hyperlab.manifold;

import ai.djl.ndarray.NDArray;

/**
 * Sinkhorn-Knopp projection onto the Birkhoff polytope (mHC, seed 001 §4.2.3):
 * M0 = exp(logits), then per iteration column-normalise, then row-normalise.
 * The float64 version is the reference; the NDArray version is what autograd differentiates.
 */
public final class Sinkhorn {
    /** mHC's t_max. */
    public static final int DEFAULT_ITERATIONS = 20;

    private Sinkhorn() {}

    /** Row and column error after each iteration, so convergence can be plotted. */
    public record Report(int iterations, double[] rowError, double[] columnError) {
        public double finalError() {
            return iterations == 0 ? Double.NaN : Math.max(rowError[iterations - 1], columnError[iterations - 1]);
        }
    }

    /** Plain float64 Sinkhorn-Knopp of exp(logits). */
    public static double[][] project(double[][] logits, int iterations) {
        checkArgs(logits, iterations);
        int n = logits.length;
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) m[i][j] = Math.exp(logits[i][j]);
        for (int t = 0; t < iterations; t++) {
            normaliseColumns(m);
            normaliseRows(m);
        }
        return m;
    }

    /** Log-domain float64 Sinkhorn: the same fixed point, finite for logits of any size (e.g. ±1e4). */
    public static double[][] projectLog(double[][] logits, int iterations) {
        checkArgs(logits, iterations);
        int n = logits.length;
        double[][] l = new double[n][];
        for (int i = 0; i < n; i++) l[i] = logits[i].clone();
        for (int t = 0; t < iterations; t++) {
            for (int j = 0; j < n; j++) {
                double lse = logSumExp(l, j, false);
                for (int i = 0; i < n; i++) l[i][j] -= lse;
            }
            for (int i = 0; i < n; i++) {
                double lse = logSumExp(l, i, true);
                for (int j = 0; j < n; j++) l[i][j] -= lse;
            }
        }
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) m[i][j] = Math.exp(l[i][j]);
        return m;
    }

    /** Runs plain Sinkhorn and records the max row/column deviation from 1 after each iteration. */
    public static Report converge(double[][] logits, int iterations) {
        checkArgs(logits, iterations);
        int n = logits.length;
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) m[i][j] = Math.exp(logits[i][j]);
        double[] rows = new double[iterations], cols = new double[iterations];
        for (int t = 0; t < iterations; t++) {
            normaliseColumns(m);
            normaliseRows(m);
            for (int i = 0; i < n; i++) {
                double r = 0, c = 0;
                for (int j = 0; j < n; j++) { r += m[i][j]; c += m[j][i]; }
                rows[t] = Math.max(rows[t], Math.abs(r - 1));
                cols[t] = Math.max(cols[t], Math.abs(c - 1));
            }
        }
        return new Report(iterations, rows, cols);
    }

    /** Batched Sinkhorn over the last two axes (..., n, n) of logits, differentiable by DJL's autograd. */
    public static NDArray project(NDArray logits, int iterations) {
        checkShape(logits, iterations);
        NDArray m = logits.exp();
        for (int t = 0; t < iterations; t++) {
            m = m.div(m.sum(new int[] {-2}, true));
            m = m.div(m.sum(new int[] {-1}, true));
        }
        return m;
    }

    /** Batched log-domain Sinkhorn over the last two axes: finite where exp(logits) overflows. */
    public static NDArray projectLog(NDArray logits, int iterations) {
        checkShape(logits, iterations);
        NDArray l = logits;
        for (int t = 0; t < iterations; t++) {
            l = l.logSoftmax(-2);
            l = l.logSoftmax(-1);
        }
        return l.exp();
    }

    private static void normaliseColumns(double[][] m) {
        int n = m.length;
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += m[i][j];
            for (int i = 0; i < n; i++) m[i][j] /= s;
        }
    }

    private static void normaliseRows(double[][] m) {
        for (double[] row : m) {
            double s = 0;
            for (double v : row) s += v;
            for (int j = 0; j < row.length; j++) row[j] /= s;
        }
    }

    private static double logSumExp(double[][] l, int index, boolean row) {
        int n = l.length;
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < n; k++) max = Math.max(max, row ? l[index][k] : l[k][index]);
        double s = 0;
        for (int k = 0; k < n; k++) s += Math.exp((row ? l[index][k] : l[k][index]) - max);
        return max + Math.log(s);
    }

    private static void checkArgs(double[][] logits, int iterations) {
        Matrices.requireSquare("logits", logits);
        Matrices.requireFinite("logits", logits);
        checkIterations(iterations);
    }

    private static void checkShape(NDArray logits, int iterations) {
        checkIterations(iterations);
        long[] s = logits.getShape().getShape();
        if (s.length < 2 || s[s.length - 1] != s[s.length - 2])
            throw new IllegalArgumentException("logits has shape " + logits.getShape() + ": the last two axes must be n x n");
    }

    private static void checkIterations(int iterations) {
        if (iterations < 1) throw new IllegalArgumentException("iterations = " + iterations + ": at least 1 is required (mHC uses 20)");
    }
}
