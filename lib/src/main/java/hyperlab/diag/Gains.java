package hyperlab.diag;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.ParameterStore;
import hyperlab.manifold.Matrices;
import hyperlab.manifold.Permutations;
import hyperlab.manifold.Sinkhorn;
import hyperlab.manifold.SpectralSphere;
import hyperlab.nn.Gpt;
import hyperlab.nn.HyperConnection;
import hyperlab.nn.Paradigm;
import java.text.DecimalFormat;
import java.text.DecimalFormatSymbols;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;
import tech.tablesaw.columns.numbers.NumberColumnFormatter;

/**
 * The papers' stability measures of H_res (seed 001 §3, Fig. 3/7; seed 003 §4): the Amax gain
 * magnitude forward (max absolute row sum) and backward (max absolute column sum), for one layer and
 * for the composite product over layers, plus spectral norms, the distance to the identity, and how far
 * the composite's row and column sums are from 1 ("composite Σ err": 0 for mHC and sHC, whose maps all
 * have unit row and column sums, even where sHC's negative entries make the Amax gain exceed 1).
 */
public final class Gains {
    private Gains() {}

    /** Max absolute row sum: how much H can amplify a signal going forward (‖H‖_∞). */
    public static double forward(double[][] h) {
        double g = 0;
        for (double[] row : h) {
            double s = 0;
            for (double v : row) s += Math.abs(v);
            g = Math.max(g, s);
        }
        return g;
    }

    /** Max absolute column sum: how much H^T can amplify a gradient going backward (‖H‖₁). */
    public static double backward(double[][] h) {
        return forward(Matrices.transpose(h));
    }

    /** Frobenius distance to the identity: small means the block degenerated to a plain residual (sHC §4.1). */
    public static double identityDistance(double[][] h) {
        double s = 0;
        for (int i = 0; i < h.length; i++) for (int j = 0; j < h.length; j++) s += Math.pow(h[i][j] - (i == j ? 1 : 0), 2);
        return Math.sqrt(s);
    }

    /**
     * Per block of a model on a batch of token ids, the worst token's single-layer and composite
     * (H_l ⋯ H_1) gains, spectral norms and identity distance, as a table with one row per block.
     */
    public static Table of(Gpt model, NDArray ids) {
        if (model.config().paradigm() == Paradigm.RC)
            throw new IllegalArgumentException("paradigm rc has no H_res: its gain is 1 by definition; diagnose an hc/mhc/mhc-lite/shc model");
        int n = model.config().streams();
        ParameterStore ps = new ParameterStore(ids.getManager(), false);
        List<NDArray> streams = model.streams(ps, ids);
        List<HyperConnection> blocks = model.blocks();
        Table t = emptyTable("Stability of H_res: " + model.config().paradigm().key() + ", n = " + n);
        double[][][] composite = null;
        for (int b = 0; b < blocks.size(); b++) {
            double[][][] h = perToken(blocks.get(b).maps(ps, streams.get(b), false).res(), n);
            if (composite == null) composite = h;
            else for (int k = 0; k < h.length; k++) composite[k] = Matrices.multiply(h[k], composite[k]);
            addRow(t, b, b % 2 == 0 ? "attn" : "mlp", h, composite);
        }
        return t;
    }

    /** Per block b, every token's composite product H_b ⋯ H_1 in float64: [block][token][n][n]. */
    public static List<double[][][]> composites(Gpt model, NDArray ids) {
        if (model.config().paradigm() == Paradigm.RC)
            throw new IllegalArgumentException("paradigm rc has no H_res; diagnose an hc/mhc/mhc-lite/shc model");
        int n = model.config().streams();
        ParameterStore ps = new ParameterStore(ids.getManager(), false);
        List<NDArray> streams = model.streams(ps, ids);
        List<double[][][]> out = new java.util.ArrayList<>();
        double[][][] composite = null;
        for (int b = 0; b < model.blocks().size(); b++) {
            double[][][] h = perToken(model.blocks().get(b).maps(ps, streams.get(b), false).res(), n);
            if (composite != null) for (int k = 0; k < h.length; k++) h[k] = Matrices.multiply(h[k], composite[k]);
            composite = h;
            out.add(h);
        }
        return out;
    }

    /**
     * Composite gains of L random residual matrices per paradigm, as in the papers' motivation:
     * HC's unconstrained H = I + noise compounds, the manifolds keep the product bounded. One row per
     * layer and paradigm (the "kind" column), so {@code Plots.gains(table, column)} draws one line each.
     */
    public static Table randomComposite(int n, int layers, double noise, long seed) {
        Table t = emptyTable("Random H_res over " + layers + " layers (n = " + n + ", noise " + noise + ")");
        for (Paradigm p : new Paradigm[] {Paradigm.HC, Paradigm.MHC, Paradigm.MHC_LITE, Paradigm.SHC}) {
            if (p == Paradigm.MHC_LITE && n > Permutations.MAX_STREAMS) continue;
            Random r = new Random(seed);
            double[][] composite = Matrices.identity(n);
            for (int l = 0; l < layers; l++) {
                double[][] h = randomMap(p, n, noise, r);
                composite = Matrices.multiply(h, composite);
                addRow(t, l, p.key(), new double[][][] {h}, new double[][][] {composite});
            }
        }
        return t;
    }

    /** One random H_res of the paradigm, its free parameters drawn at the given scale around the identity. */
    static double[][] randomMap(Paradigm p, int n, double noise, Random r) {
        return switch (p) {
            case HC -> {
                double[][] h = Matrices.identity(n);
                for (double[] row : h) for (int j = 0; j < n; j++) row[j] += noise * r.nextGaussian();
                yield h;
            }
            case MHC -> {
                double[][] l = new double[n][n];
                for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) l[i][j] = (i == j ? 2 : 0) + noise * 10 * r.nextGaussian();
                yield Sinkhorn.project(l, Sinkhorn.DEFAULT_ITERATIONS);
            }
            case MHC_LITE -> {
                double[] a = new double[Permutations.count(n)];
                for (int i = 0; i < a.length; i++) a[i] = (i == 0 ? 2 : 0) + noise * 10 * r.nextGaussian();
                yield Permutations.mix(Permutations.softmax(a), n);
            }
            case SHC -> {
                int k = SpectralSphere.skewSize(n);
                double[] u = new double[k], v = new double[k], s = new double[n - 1];
                for (int i = 0; i < k; i++) { u[i] = noise * 10 * r.nextGaussian(); v[i] = noise * 10 * r.nextGaussian(); }
                for (int i = 0; i < n - 1; i++) s[i] = Math.tanh(2 + noise * 10 * r.nextGaussian());
                yield SpectralSphere.compose(SpectralSphere.cayley(SpectralSphere.skew(u, n - 1)), s, SpectralSphere.cayley(SpectralSphere.skew(v, n - 1)));
            }
            case RC -> Matrices.identity(1);
        };
    }

    private static double[][][] perToken(NDArray res, int n) {
        double[] flat = res.toType(DataType.FLOAT64, false).toDoubleArray();
        int tokens = flat.length / (n * n);
        double[][][] out = new double[tokens][n][n];
        for (int k = 0; k < tokens; k++) for (int i = 0; i < n; i++) System.arraycopy(flat, (k * n + i) * n, out[k][i], 0, n);
        return out;
    }

    private static Table emptyTable(String name) {
        Table t = Table.create(name, IntColumn.create("block"), StringColumn.create("kind"),
                DoubleColumn.create("gain fwd"), DoubleColumn.create("gain bwd"),
                DoubleColumn.create("composite fwd"), DoubleColumn.create("composite bwd"),
                DoubleColumn.create("‖H‖₂"), DoubleColumn.create("‖H−J‖₂"), DoubleColumn.create("‖H−I‖_F"),
                DoubleColumn.create("composite Σ err"));
        // 7 decimals show Sinkhorn's 1e-7 column error without float64's noise digits
        NumberColumnFormatter seven = new NumberColumnFormatter(new DecimalFormat("0.0######", DecimalFormatSymbols.getInstance(Locale.ROOT)));
        for (int c = 2; c < t.columnCount(); c++) t.doubleColumn(c).setPrintFormatter(seven);
        return t;
    }

    /** Appends the worst token's measures of h and of the composite product. */
    private static void addRow(Table t, int block, String kind, double[][][] h, double[][][] composite) {
        double f = 0, bw = 0, cf = 0, cb = 0, s = 0, d = 0, id = 0, sums = 0;
        int n = h[0].length;
        for (int k = 0; k < h.length; k++) {
            f = Math.max(f, forward(h[k]));
            bw = Math.max(bw, backward(h[k]));
            cf = Math.max(cf, forward(composite[k]));
            cb = Math.max(cb, backward(composite[k]));
            s = Math.max(s, Matrices.spectralNorm(h[k]));
            d = Math.max(d, Matrices.spectralNorm(Matrices.add(h[k], Matrices.uniform(n), -1)));
            id = Math.max(id, identityDistance(h[k]));
            sums = Math.max(sums, Matrices.marginalError(composite[k]));
        }
        t.intColumn("block").append(block);
        t.stringColumn("kind").append(kind);
        double[] vals = {f, bw, cf, cb, s, d, id, sums};
        for (int i = 0; i < vals.length; i++) t.doubleColumn(i + 2).append(vals[i]);
    }
}
