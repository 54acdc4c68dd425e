package hyperlab.manifold;

/** Small dense float64 linear algebra: the exact reference every float32 path is checked against. */
public final class Matrices {
    private Matrices() {}

    public static double[][] identity(int n) {
        double[][] m = new double[n][n];
        for (int i = 0; i < n; i++) m[i][i] = 1;
        return m;
    }

    /** J = 1 1^T / n, the uniform matrix at the centre of the Birkhoff polytope. */
    public static double[][] uniform(int n) {
        double[][] m = new double[n][n];
        for (double[] row : m) java.util.Arrays.fill(row, 1.0 / n);
        return m;
    }

    public static double[][] multiply(double[][] a, double[][] b) {
        int n = a.length, k = b.length, m = b[0].length;
        if (a[0].length != k) throw new IllegalArgumentException("multiply: inner sizes differ: " + a[0].length + " vs " + k);
        double[][] c = new double[n][m];
        for (int i = 0; i < n; i++)
            for (int p = 0; p < k; p++) {
                double v = a[i][p];
                for (int j = 0; j < m; j++) c[i][j] += v * b[p][j];
            }
        return c;
    }

    public static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) t[j][i] = a[i][j];
        return t;
    }

    public static double[][] add(double[][] a, double[][] b, double scaleB) {
        double[][] c = new double[a.length][a[0].length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) c[i][j] = a[i][j] + scaleB * b[i][j];
        return c;
    }

    /** Inverse by Gauss-Jordan elimination with partial pivoting; fails loudly on a singular matrix. */
    public static double[][] inverse(double[][] a) {
        int n = a.length;
        double[][] m = new double[n][2 * n];
        for (int i = 0; i < n; i++) {
            System.arraycopy(a[i], 0, m[i], 0, n);
            m[i][n + i] = 1;
        }
        for (int col = 0; col < n; col++) {
            int piv = col;
            for (int r = col + 1; r < n; r++) if (Math.abs(m[r][col]) > Math.abs(m[piv][col])) piv = r;
            if (Math.abs(m[piv][col]) < 1e-300) throw new ArithmeticException("inverse: matrix is singular");
            double[] tmp = m[col]; m[col] = m[piv]; m[piv] = tmp;
            double d = m[col][col];
            for (int j = 0; j < 2 * n; j++) m[col][j] /= d;
            for (int r = 0; r < n; r++) {
                if (r == col || m[r][col] == 0) continue;
                double f = m[r][col];
                for (int j = 0; j < 2 * n; j++) m[r][j] -= f * m[col][j];
            }
        }
        double[][] inv = new double[n][n];
        for (int i = 0; i < n; i++) System.arraycopy(m[i], n, inv[i], 0, n);
        return inv;
    }

    /** Largest singular value: sqrt of the top eigenvalue of A^T A, by cyclic Jacobi (exact for small n). */
    public static double spectralNorm(double[][] a) {
        double[] ev = symmetricEigenvalues(multiply(transpose(a), a));
        double max = 0;
        for (double v : ev) max = Math.max(max, v);
        return Math.sqrt(Math.max(0, max));
    }

    /** Eigenvalues of a symmetric matrix by cyclic Jacobi rotations. */
    public static double[] symmetricEigenvalues(double[][] s) {
        int n = s.length;
        double[][] a = new double[n][];
        for (int i = 0; i < n; i++) a[i] = s[i].clone();
        for (int sweep = 0; sweep < 100; sweep++) {
            double off = 0;
            for (int i = 0; i < n; i++) for (int j = i + 1; j < n; j++) off += a[i][j] * a[i][j];
            if (off < 1e-30) break;
            for (int p = 0; p < n; p++)
                for (int q = p + 1; q < n; q++) {
                    if (Math.abs(a[p][q]) < 1e-300) continue;
                    double theta = (a[q][q] - a[p][p]) / (2 * a[p][q]);
                    double t = Math.signum(theta) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
                    if (theta == 0) t = 1;
                    double c = 1 / Math.sqrt(t * t + 1), sn = t * c;
                    for (int k = 0; k < n; k++) {
                        double akp = a[k][p], akq = a[k][q];
                        a[k][p] = c * akp - sn * akq;
                        a[k][q] = sn * akp + c * akq;
                    }
                    for (int k = 0; k < n; k++) {
                        double apk = a[p][k], aqk = a[q][k];
                        a[p][k] = c * apk - sn * aqk;
                        a[q][k] = sn * apk + c * aqk;
                    }
                }
        }
        double[] ev = new double[n];
        for (int i = 0; i < n; i++) ev[i] = a[i][i];
        return ev;
    }

    /** Largest |row sum - 1| and |column sum - 1|: how far a matrix is from doubly stochastic marginals. */
    public static double marginalError(double[][] m) {
        int n = m.length;
        double err = 0;
        for (int i = 0; i < n; i++) {
            double r = 0, c = 0;
            for (int j = 0; j < n; j++) { r += m[i][j]; c += m[j][i]; }
            err = Math.max(err, Math.max(Math.abs(r - 1), Math.abs(c - 1)));
        }
        return err;
    }

    public static double maxAbsDiff(double[][] a, double[][] b) {
        double d = 0;
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) d = Math.max(d, Math.abs(a[i][j] - b[i][j]));
        return d;
    }

    /** Rejects NaN and infinities with a message naming the argument. */
    public static void requireFinite(String name, double[][] m) {
        for (int i = 0; i < m.length; i++)
            for (int j = 0; j < m[i].length; j++)
                if (!Double.isFinite(m[i][j]))
                    throw new IllegalArgumentException(name + "[" + i + "][" + j + "] = " + m[i][j] + ": only finite values are allowed");
    }

    public static void requireSquare(String name, double[][] m) {
        if (m.length == 0) throw new IllegalArgumentException(name + " is empty: a square n x n matrix with n >= 1 is required");
        for (double[] row : m)
            if (row.length != m.length)
                throw new IllegalArgumentException(name + " is " + m.length + " x " + row.length + ": a square matrix is required");
    }
}
