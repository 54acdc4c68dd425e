package hyperlab.diag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import hyperlab.manifold.Matrices;
import hyperlab.nn.Gpt;
import hyperlab.nn.GptConfig;
import hyperlab.nn.Paradigm;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import tech.tablesaw.api.Table;

class Nd4jSpectraTest {
    /** Reference: square roots of the eigenvalues of AᵀA by the pure-Java cyclic Jacobi, largest first. */
    private static double[] javaSingularValues(double[][] a) {
        double[] ev = Matrices.symmetricEigenvalues(Matrices.multiply(Matrices.transpose(a), a));
        double[] s = Arrays.stream(ev).map(v -> Math.sqrt(Math.max(0, v))).sorted().toArray();
        for (int i = 0; i < s.length / 2; i++) { double t = s[i]; s[i] = s[s.length - 1 - i]; s[s.length - 1 - i] = t; }
        return s;
    }

    @Test
    void lapackSvdMatchesTheJavaFloat64Reference() {
        assertTrue(Nd4jSpectra.available(), "ND4J's native backend loads on this JDK");
        assertEquals(List.of(3.0, 2.0), Arrays.stream(Nd4jSpectra.singularValues(new double[][] {{0, 2}, {-3, 0}})).boxed().toList());
        Random r = new Random(7);
        for (int trial = 0; trial < 20; trial++) {
            int n = 2 + trial % 5;
            double[][] a = new double[n][n];
            for (double[] row : a) for (int j = 0; j < n; j++) row[j] = r.nextGaussian() * Math.pow(10, r.nextInt(3));
            double[] want = javaSingularValues(a), got = Nd4jSpectra.singularValues(a);
            for (int i = 0; i < n; i++) assertEquals(want[i], got[i], 1e-10 * want[0], "trial " + trial + " σ" + (i + 1));
        }
    }

    @Test
    void compositeSpectraOfAModelAgreeWithTheSpectralNormInGains() {
        try (NDManager m = NDManager.newBaseManager()) {
            Gpt model = Gpt.create(GptConfig.preset("tiny").context(8).paradigm(Paradigm.HC)).init(m);
            for (var e : model.getParameters()) {   // move the maps off the identity so the spectra are not trivial
                NDArray p = e.getValue().getArray();
                if (e.getKey().contains("b_res") || e.getKey().contains("phi")) p.addi(m.randomNormal(0, 0.2f, p.getShape(), p.getDataType()));
            }
            NDArray ids = m.create(new int[] {3, 1, 4, 1, 5, 9, 2, 6}).reshape(1, 8);
            Table t = Nd4jSpectra.of(model, ids);
            System.out.println(t.printAll());
            List<double[][][]> comp = Gains.composites(model, ids);
            for (int b = 0; b < comp.size(); b++) {
                double s1 = 0;
                for (double[][] h : comp.get(b)) s1 = Math.max(s1, Matrices.spectralNorm(h));
                assertEquals(s1, t.doubleColumn("max σ1").get(b), 1e-10 * s1, "block " + b);
            }
            Table g = Gains.of(model, ids);
            for (int b = 0; b < comp.size(); b++)
                for (int k = 0; k < comp.get(b).length; k++)
                    assertTrue(Gains.forward(comp.get(b)[k]) <= g.doubleColumn("composite fwd").get(b) + 1e-12, "composites() agrees with of()");
        }
    }
}
