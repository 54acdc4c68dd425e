package hyperlab.manifold;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SinkhornTest {
    static double[][] randomLogits(Random r, int n, double scale) {
        double[][] l = new double[n][n];
        for (double[] row : l) for (int j = 0; j < n; j++) row[j] = scale * r.nextGaussian();
        return l;
    }

    @Test
    void convergesToDoublyStochasticWithEnoughIterations() {
        Random r = new Random(1);
        for (int n : new int[] {2, 3, 4, 8}) {
            double[][] h = Sinkhorn.project(randomLogits(r, n, 1.0), 200);
            assertTrue(Matrices.marginalError(h) < 1e-6, "n=" + n + " error " + Matrices.marginalError(h));
            for (double[] row : h) for (double v : row) assertTrue(v > 0);
        }
    }

    @Test
    void reportsTheErrorAfterTwentyIterations() {
        Random r = new Random(2);
        double worst = 0;
        for (int trial = 0; trial < 100; trial++) {
            Sinkhorn.Report rep = Sinkhorn.converge(randomLogits(r, 4, 1.0), Sinkhorn.DEFAULT_ITERATIONS);
            worst = Math.max(worst, rep.finalError());
            assertTrue(rep.rowError()[19] < 1e-12, "rows are exact after the final row step");
            assertTrue(rep.columnError()[19] <= rep.columnError()[0] + 1e-15, "column error must not grow");
        }
        System.out.printf("Sinkhorn n=4, N(0,1) logits, 20 iterations: worst marginal error over 100 draws = %.3e%n", worst);
        assertTrue(worst < 1e-3, "20 iterations leave " + worst);
    }

    @Test
    void logDomainMatchesPlainAndStaysFiniteAtHugeLogits() {
        Random r = new Random(3);
        double[][] l = randomLogits(r, 4, 2.0);
        assertTrue(Matrices.maxAbsDiff(Sinkhorn.project(l, 30), Sinkhorn.projectLog(l, 30)) < 1e-12);

        // +1e4 on a permutation's entries, -1e4 elsewhere: exp overflows, the projection is that permutation
        int[] perm = {2, 0, 3, 1};
        double[][] huge = new double[4][4];
        for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) huge[i][j] = perm[i] == j ? 1e4 : -1e4;
        assertTrue(hasNonFinite(Sinkhorn.project(huge, 20)), "plain exp overflows at 1e4");
        double[][] logd = Sinkhorn.projectLog(huge, 20);
        for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) assertEquals(perm[i] == j ? 1 : 0, logd[i][j], 1e-12);

        double[][] random = randomLogits(r, 4, 1e4);
        double[][] rl = Sinkhorn.projectLog(random, 20);
        assertTrue(!hasNonFinite(rl), "log-domain stays finite for N(0, 1e4²) logits");
        for (double[] row : rl) assertEquals(1, java.util.Arrays.stream(row).sum(), 1e-12);
    }

    @Test
    void batchedNdArrayVersionsMatchFloat64() {
        Random r = new Random(4);
        try (NDManager m = NDManager.newBaseManager()) {
            double[][] a = randomLogits(r, 4, 1.0), b = randomLogits(r, 4, 1.0);
            double[] flat = new double[32];
            for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) { flat[i * 4 + j] = a[i][j]; flat[16 + i * 4 + j] = b[i][j]; }
            NDArray logits = m.create(flat, new Shape(2, 4, 4));
            double[] plain = Sinkhorn.project(logits, 20).toDoubleArray();
            double[] logd = Sinkhorn.projectLog(logits, 20).toDoubleArray();
            double[][] ra = Sinkhorn.project(a, 20), rb = Sinkhorn.project(b, 20);
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) {
                    assertEquals(ra[i][j], plain[i * 4 + j], 1e-12);
                    assertEquals(rb[i][j], plain[16 + i * 4 + j], 1e-12);
                    assertEquals(ra[i][j], logd[i * 4 + j], 1e-12);
                }
            NDArray huge = m.create(new float[] {1e4f, -1e4f, -1e4f, 1e4f}, new Shape(2, 2));
            NDArray h = Sinkhorn.projectLog(huge, 20);
            assertTrue(h.isNaN().logicalNot().all().getBoolean() && h.isInfinite().logicalNot().all().getBoolean());
        }
    }

    @Test
    void badInputIsRejectedWithTheParameterNamed() {
        var nan = assertThrows(IllegalArgumentException.class, () -> Sinkhorn.project(new double[][] {{0, Double.NaN}, {0, 0}}, 20));
        assertTrue(nan.getMessage().contains("logits[0][1] = NaN"), nan.getMessage());
        var it = assertThrows(IllegalArgumentException.class, () -> Sinkhorn.project(new double[][] {{0}}, 0));
        assertTrue(it.getMessage().contains("iterations = 0"), it.getMessage());
        var sq = assertThrows(IllegalArgumentException.class, () -> Sinkhorn.project(new double[][] {{0, 1}}, 5));
        assertTrue(sq.getMessage().contains("square"), sq.getMessage());
    }

    private static boolean hasNonFinite(double[][] m) {
        for (double[] row : m) for (double v : row) if (!Double.isFinite(v)) return true;
        return false;
    }
}
