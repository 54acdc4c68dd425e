package hyperlab.manifold;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.ArrayList;
import java.util.List;

/**
 * mHC-lite's exact Birkhoff parameterisation (seed 003 eq. 4): H = Σ_k softmax(a)_k P_k over all
 * n! permutation matrices, doubly stochastic by construction (Birkhoff-von Neumann), no iterations.
 */
public final class Permutations {
    /** 6! = 720 matrices is the most that stays practical; 7! = 5040 weights per token is not. */
    public static final int MAX_STREAMS = 6;

    private Permutations() {}

    /** All permutations of 0..n-1 in lexicographic order; index 0 is the identity. */
    public static List<int[]> of(int n) {
        checkN(n);
        List<int[]> out = new ArrayList<>();
        permute(identityPerm(n), 0, out);
        out.sort(Permutations::lexicographic);
        return out;
    }

    public static int count(int n) {
        checkN(n);
        int f = 1;
        for (int i = 2; i <= n; i++) f *= i;
        return f;
    }

    /** Σ_k w_k P_k in float64, where P_k[i][perm[i]] = 1; w must be non-negative and sum to 1 for a doubly stochastic result. */
    public static double[][] mix(double[] weights, int n) {
        List<int[]> perms = of(n);
        if (weights.length != perms.size())
            throw new IllegalArgumentException("weights has " + weights.length + " entries: n! = " + perms.size() + " are required for n = " + n);
        double[][] m = new double[n][n];
        for (int k = 0; k < perms.size(); k++) {
            int[] p = perms.get(k);
            for (int i = 0; i < n; i++) m[i][p[i]] += weights[k];
        }
        return m;
    }

    /** Softmax in float64 (max-shifted). */
    public static double[] softmax(double[] a) {
        double max = Double.NEGATIVE_INFINITY;
        for (double v : a) max = Math.max(max, v);
        double[] e = new double[a.length];
        double s = 0;
        for (int i = 0; i < a.length; i++) s += e[i] = Math.exp(a[i] - max);
        for (int i = 0; i < a.length; i++) e[i] /= s;
        return e;
    }

    /** The basis as a constant (n!, n*n) array, so Σ_k w_k P_k is one matMul of (..., n!) weights. */
    public static NDArray basis(NDManager manager, int n) {
        List<int[]> perms = of(n);
        float[] flat = new float[perms.size() * n * n];
        for (int k = 0; k < perms.size(); k++) {
            int[] p = perms.get(k);
            for (int i = 0; i < n; i++) flat[k * n * n + i * n + p[i]] = 1f;
        }
        return manager.create(flat, new Shape(perms.size(), (long) n * n));
    }

    /** Batched H = Σ_k softmax(a)_k P_k for logits a of shape (..., n!); returns (..., n, n). */
    public static NDArray mix(NDArray logits, int n) {
        long[] s = logits.getShape().getShape();
        if (s[s.length - 1] != count(n))
            throw new IllegalArgumentException("logits has shape " + logits.getShape() + ": the last axis must be n! = " + count(n));
        NDArray w = logits.softmax(-1);
        NDArray basis = basis(logits.getManager(), n).toType(logits.getDataType(), false);
        long[] out = java.util.Arrays.copyOf(s, s.length + 1);
        out[s.length - 1] = n;
        out[s.length] = n;
        return w.matMul(basis).reshape(new Shape(out));
    }

    private static int[] identityPerm(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) p[i] = i;
        return p;
    }

    private static void permute(int[] p, int k, List<int[]> out) {
        if (k == p.length) { out.add(p.clone()); return; }
        for (int i = k; i < p.length; i++) {
            swap(p, k, i);
            permute(p, k + 1, out);
            swap(p, k, i);
        }
    }

    private static void swap(int[] p, int i, int j) { int t = p[i]; p[i] = p[j]; p[j] = t; }

    private static int lexicographic(int[] a, int[] b) {
        for (int i = 0; i < a.length; i++) if (a[i] != b[i]) return Integer.compare(a[i], b[i]);
        return 0;
    }

    private static void checkN(int n) {
        if (n < 1 || n > MAX_STREAMS)
            throw new IllegalArgumentException("streams n = " + n + ": mHC-lite needs 1 <= n <= " + MAX_STREAMS
                    + " (it has n! weights per token); use mHC or sHC for more streams");
    }
}
