package hyperlab.manifold;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * sHC's affine spectral sphere (seed 003 §5.2): H = J + (U_Z U_core) Σ (U_Z V_core)^T with U_Z the
 * truncated Helmert basis of 1⊥, U_core/V_core orthogonal by the Cayley transform of a skew matrix.
 * Rows and columns of H sum to exactly 1 and ‖H − J‖₂ = max|Σ_ii| ≤ 1.
 */
public final class SpectralSphere {
    private SpectralSphere() {}

    /** k = (n−1)(n−2)/2 free entries of an (n−1)×(n−1) skew-symmetric matrix. */
    public static int skewSize(int n) {
        checkN(n);
        return (n - 1) * (n - 2) / 2;
    }

    /** Truncated Helmert matrix (n × (n−1)): orthonormal columns spanning the vectors that sum to zero. */
    public static double[][] helmert(int n) {
        checkN(n);
        double[][] u = new double[n][n - 1];
        for (int j = 1; j < n; j++) {                   // column j-1: (1,...,1,-j,0,...)/sqrt(j(j+1))
            double s = 1 / Math.sqrt((double) j * (j + 1));
            for (int i = 0; i < j; i++) u[i][j - 1] = s;
            u[j][j - 1] = -j * s;
        }
        return u;
    }

    /** Fills the strict upper triangle row by row with v and mirrors it negated: a skew matrix of size m. */
    public static double[][] skew(double[] v, int m) {
        if (v.length != m * (m - 1) / 2)
            throw new IllegalArgumentException("skew: " + v.length + " values given, " + (m * (m - 1) / 2) + " are needed for a " + m + " x " + m + " matrix");
        double[][] s = new double[m][m];
        int k = 0;
        for (int i = 0; i < m; i++)
            for (int j = i + 1; j < m; j++) { s[i][j] = v[k]; s[j][i] = -v[k]; k++; }
        return s;
    }

    /** Cayley transform (I − A)^{-1}(I + A): orthogonal for skew-symmetric A, the identity at A = 0. */
    public static double[][] cayley(double[][] a) {
        int m = a.length;
        double[][] i = Matrices.identity(m);
        return Matrices.multiply(Matrices.inverse(Matrices.add(i, a, -1)), Matrices.add(i, a, 1));
    }

    /** H = J + U_Z U Σ V^T U_Z^T in float64. */
    public static double[][] compose(double[][] uCore, double[] sigma, double[][] vCore) {
        int n = sigma.length + 1;
        double[][] uz = helmert(n);
        double[][] u = Matrices.multiply(uz, uCore), v = Matrices.multiply(uz, vCore);
        double[][] us = new double[n][n - 1];
        for (int i = 0; i < n; i++) for (int j = 0; j < n - 1; j++) us[i][j] = u[i][j] * sigma[j];
        return Matrices.add(Matrices.uniform(n), Matrices.multiply(us, Matrices.transpose(v)), 1);
    }

    /** The Helmert basis as a constant (n, n−1) array. */
    public static NDArray helmert(NDManager manager, int n) {
        double[][] u = helmert(n);
        double[] flat = new double[n * (n - 1)];
        for (int i = 0; i < n; i++) System.arraycopy(u[i], 0, flat, i * (n - 1), n - 1);
        return manager.create(flat, new Shape(n, n - 1));      // float64: callers cast to their precision
    }

    /** Batched skew: (..., k) → (..., m, m), as one matMul with a constant ±1 scatter matrix (k, m*m). */
    public static NDArray skew(NDArray v, int m) {
        int k = m * (m - 1) / 2;
        long[] s = v.getShape().getShape();
        if (s[s.length - 1] != k)
            throw new IllegalArgumentException("skew: last axis of " + v.getShape() + " must be " + k + " for a " + m + " x " + m + " matrix");
        float[] scatter = new float[k * m * m];
        int idx = 0;
        for (int i = 0; i < m; i++)
            for (int j = i + 1; j < m; j++) {
                scatter[idx * m * m + i * m + j] = 1f;
                scatter[idx * m * m + j * m + i] = -1f;
                idx++;
            }
        NDArray e = v.getManager().create(scatter, new Shape(k, (long) m * m)).toType(v.getDataType(), false);
        long[] out = java.util.Arrays.copyOf(s, s.length + 1);
        out[s.length - 1] = m;
        out[s.length] = m;
        return v.matMul(e).reshape(new Shape(out));
    }

    /** Batched Cayley transform over the last two axes. */
    public static NDArray cayley(NDArray a) {
        long m = a.getShape().get(a.getShape().dimension() - 1);
        NDArray eye = a.getManager().eye((int) m).toType(a.getDataType(), false);
        return eye.sub(a).inverse().matMul(eye.add(a));
    }

    /** Batched H = J + U_Z U diag(σ) V^T U_Z^T for uCore, vCore (..., n−1, n−1) and sigma (..., n−1). */
    public static NDArray compose(NDArray uCore, NDArray sigma, NDArray vCore, int n) {
        NDManager mgr = sigma.getManager();
        NDArray uz = helmert(mgr, n).toType(sigma.getDataType(), false);
        NDArray u = uz.matMul(uCore);                          // (..., n, n-1)
        NDArray v = uz.matMul(vCore);
        NDArray disp = u.mul(sigma.expandDims(-2)).matMul(v.transpose(swapLast(v.getShape().dimension())));
        return disp.add(1.0 / n);
    }

    private static int[] swapLast(int dims) {
        int[] axes = new int[dims];
        for (int i = 0; i < dims; i++) axes[i] = i;
        axes[dims - 2] = dims - 1;
        axes[dims - 1] = dims - 2;
        return axes;
    }

    private static void checkN(int n) {
        if (n < 1) throw new IllegalArgumentException("streams n = " + n + ": at least 1 stream is required");
    }
}
