package hyperlab.nn;

import hyperlab.manifold.Matrices;
import hyperlab.manifold.Permutations;
import hyperlab.manifold.Sinkhorn;
import hyperlab.manifold.SpectralSphere;
import java.util.Map;

/**
 * The same maps as {@link ResidualMaps} for one token, written out in plain float64 loops:
 * the independent reference the DJL ops and their gradients are tested against.
 */
public final class ReferenceMaps {
    /** H_pre (n), H_post (n), H_res (n × n) of one token. */
    public record Maps(double[] pre, double[] post, double[][] res) {}

    private ReferenceMaps() {}

    public static Maps compute(Paradigm p, int n, boolean dynamic, int sinkhornIterations,
                               Map<String, double[]> w, double[][] x) {
        Matrices.requireFinite("x", x);
        int c = x[0].length, d = n * c;
        boolean dyn = p != Paradigm.HC || dynamic;
        double[] xn = new double[d];
        double ms = 0;
        for (int i = 0; i < n; i++) for (int j = 0; j < c; j++) { xn[i * c + j] = x[i][j]; ms += x[i][j] * x[i][j]; }
        double r = Math.sqrt(ms / d + ResidualMaps.EPS);
        for (int i = 0; i < d; i++) xn[i] /= r;

        double[] pre = gate(p, dyn, xn, w, "pre", n), post = gate(p, dyn, xn, w, "post", n);
        if (p.sigmoidGates())
            for (int i = 0; i < n; i++) { pre[i] = sigmoid(pre[i]); post[i] = 2 * sigmoid(post[i]); }
        double[][] res = switch (p) {
            case HC -> {
                double[] z = dyn ? project(xn, w.get("phi_res"), n * n) : new double[n * n];
                double a = dyn ? w.get("alpha_res")[0] : 0;
                double[][] h = new double[n][n];
                for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) h[i][j] = a * Math.tanh(z[i * n + j]) + w.get("b_res")[i * n + j];
                yield h;
            }
            case MHC -> {
                double[] z = project(xn, w.get("phi_res"), n * n);
                double a = w.get("alpha_res")[0];
                double[][] l = new double[n][n];
                for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) l[i][j] = a * z[i * n + j] + w.get("b_res")[i * n + j];
                yield Sinkhorn.project(l, sinkhornIterations);
            }
            case MHC_LITE -> {
                int f = Permutations.count(n);
                double[] z = project(xn, w.get("phi_res"), f);
                double a = w.get("alpha_res")[0];
                for (int i = 0; i < f; i++) z[i] = a * z[i] + w.get("b_res")[i];
                yield Permutations.mix(Permutations.softmax(z), n);
            }
            case SHC -> spectral(n, xn, w);
            case RC -> throw new IllegalArgumentException("paradigm rc has no residual maps");
        };
        return new Maps(pre, post, res);
    }

    /** One token's block update x' = H_res x + H_post^T f. */
    public static double[][] merge(Maps m, double[][] x, double[] f) {
        double[][] out = Matrices.multiply(m.res(), x);
        for (int i = 0; i < out.length; i++) for (int j = 0; j < f.length; j++) out[i][j] += m.post()[i] * f[j];
        return out;
    }

    /** H_pre x: the sublayer's input. */
    public static double[] aggregate(double[] pre, double[][] x) {
        double[] h = new double[x[0].length];
        for (int i = 0; i < x.length; i++) for (int j = 0; j < h.length; j++) h[j] += pre[i] * x[i][j];
        return h;
    }

    private static double[][] spectral(int n, double[] xn, Map<String, double[]> w) {
        if (n == 1) return new double[][] {{1}};
        int k = SpectralSphere.skewSize(n);
        double[] s = project(xn, w.get("w_s"), n - 1);
        double ts = w.get("tau_s")[0];
        for (int i = 0; i < n - 1; i++) s[i] = Math.tanh(ts * s[i] + w.get("b_s")[i]);
        double[][] u = k > 0 ? SpectralSphere.cayley(SpectralSphere.skew(rotation(xn, w, "u", k), n - 1)) : Matrices.identity(1);
        double[][] v = k > 0 ? SpectralSphere.cayley(SpectralSphere.skew(rotation(xn, w, "v", k), n - 1)) : Matrices.identity(1);
        return SpectralSphere.compose(u, s, v);
    }

    private static double[] rotation(double[] xn, Map<String, double[]> w, String s, int k) {
        double[] z = project(xn, w.get("w_" + s), k);
        double tau = w.get("tau_" + s)[0], gamma = w.get("gamma_" + s)[0];
        for (int i = 0; i < k; i++) z[i] = gamma * Math.tanh(tau * z[i] + w.get("b_" + s)[i]);
        return z;
    }

    private static double[] gate(Paradigm p, boolean dyn, double[] xn, Map<String, double[]> w, String which, int n) {
        double[] b = w.get("b_" + which), g = b.clone();
        if (!dyn) return g;
        double[] z = project(xn, w.get("phi_" + which), n);
        double a = w.get("alpha_" + which)[0];
        for (int i = 0; i < n; i++) g[i] += a * (p == Paradigm.HC ? Math.tanh(z[i]) : z[i]);
        return g;
    }

    /** x' φ for φ stored row-major as (d, m). */
    private static double[] project(double[] xn, double[] phi, int m) {
        double[] z = new double[m];
        for (int i = 0; i < xn.length; i++) for (int j = 0; j < m; j++) z[j] += xn[i] * phi[i * m + j];
        return z;
    }

    private static double sigmoid(double v) { return 1 / (1 + Math.exp(-v)); }
}
