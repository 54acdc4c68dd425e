package hyperlab.diag;

import ai.djl.ndarray.NDArray;
import hyperlab.nn.Gpt;
import java.util.List;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.Table;

/**
 * The whole singular-value spectrum of the composite H_res products, by ND4J's LAPACK SVD in float64:
 * σ_1 is the spectral gain, and σ_2…σ_n shrinking towards 0 shows the product collapsing onto one
 * direction (a product of doubly stochastic maps tends to J = 11ᵀ/n). ND4J is optional: add
 * org.nd4j:nd4j-native:1.0.0-M2.1 and its linux-x86_64 natives to the class path to use this class.
 */
public final class Nd4jSpectra {
    private Nd4jSpectra() {}

    /** Whether ND4J and a native backend load here (false: this class's methods would fail). */
    public static boolean available() {
        try {
            Nd4j.create(DataType.DOUBLE, 1);
            return true;
        } catch (Throwable e) {
            return false;
        }
    }

    /** Singular values of an m×n matrix, largest first, by LAPACK gesvd on a float64 copy. */
    public static double[] singularValues(double[][] a) {
        requireNd4j();
        int m = a.length, n = a[0].length;
        INDArray x = Nd4j.create(a).castTo(DataType.DOUBLE).dup('f');
        INDArray s = Nd4j.create(DataType.DOUBLE, Math.min(m, n));
        INDArray u = Nd4j.create(DataType.DOUBLE, new long[] {m, m}, 'f'), vt = Nd4j.create(DataType.DOUBLE, new long[] {n, n}, 'f');
        Nd4j.getBlasWrapper().lapack().gesvd(x, s, u, vt);
        return s.toDoubleVector();
    }

    /**
     * Per block, over a batch's tokens: the largest σ_1 and σ_2 and the smallest σ_n of the composite
     * product H_b ⋯ H_1 (worst case for growth, for collapse), and the largest σ_1/σ_n.
     */
    public static Table of(Gpt model, NDArray ids) {
        requireNd4j();
        List<double[][][]> comp = Gains.composites(model, ids);
        Table t = Table.create("Composite spectra: " + model.config().paradigm().key() + ", n = " + model.config().streams(),
                IntColumn.create("block"), DoubleColumn.create("max σ1"), DoubleColumn.create("max σ2"),
                DoubleColumn.create("min σn"), DoubleColumn.create("max σ1/σn"));
        for (int b = 0; b < comp.size(); b++) {
            double s1 = 0, s2 = 0, sn = Double.POSITIVE_INFINITY, cond = 0;
            for (double[][] h : comp.get(b)) {
                double[] s = singularValues(h);
                s1 = Math.max(s1, s[0]);
                s2 = Math.max(s2, s.length > 1 ? s[1] : 0);
                sn = Math.min(sn, s[s.length - 1]);
                cond = Math.max(cond, s[0] / s[s.length - 1]);
            }
            t.intColumn("block").append(b);
            t.doubleColumn("max σ1").append(s1);
            t.doubleColumn("max σ2").append(s2);
            t.doubleColumn("min σn").append(sn);
            t.doubleColumn("max σ1/σn").append(cond);
        }
        return t;
    }

    private static void requireNd4j() {
        try {
            Class.forName("org.nd4j.linalg.factory.Nd4j", false, Nd4jSpectra.class.getClassLoader());
        } catch (ClassNotFoundException e) {
            throw new IllegalStateException("ND4J is not on the class path: add org.nd4j:nd4j-native:1.0.0-M2.1 and "
                    + "org.nd4j:nd4j-native:1.0.0-M2.1:linux-x86_64 (e.g. %maven in a notebook), or use Matrices.spectralNorm");
        }
    }
}
