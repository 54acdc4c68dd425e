package hyperlab.manifold;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SpectralSphereTest {
    @Test
    void helmertIsAnOrthonormalBasisOfTheZeroSumVectors() {
        for (int n = 2; n <= 8; n++) {
            double[][] u = SpectralSphere.helmert(n);
            double[][] utu = Matrices.multiply(Matrices.transpose(u), u);
            assertTrue(Matrices.maxAbsDiff(utu, Matrices.identity(n - 1)) < 1e-14);
            for (int j = 0; j < n - 1; j++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += u[i][j];
                assertEquals(0, s, 1e-14);
            }
            // U_Z U_Z^T is the projector I - J onto 1⊥
            double[][] proj = Matrices.multiply(u, Matrices.transpose(u));
            assertTrue(Matrices.maxAbsDiff(proj, Matrices.add(Matrices.identity(n), Matrices.uniform(n), -1)) < 1e-14);
        }
    }

    @Test
    void cayleyOfASkewMatrixIsOrthogonalAndIdentityAtZero() {
        Random r = new Random(7);
        for (int m = 1; m <= 5; m++) {
            double[] v = new double[m * (m - 1) / 2];
            for (int i = 0; i < v.length; i++) v[i] = 2 * r.nextGaussian();
            double[][] q = SpectralSphere.cayley(SpectralSphere.skew(v, m));
            assertTrue(Matrices.maxAbsDiff(Matrices.multiply(Matrices.transpose(q), q), Matrices.identity(m)) < 1e-12);
            assertTrue(Matrices.maxAbsDiff(SpectralSphere.cayley(SpectralSphere.skew(new double[v.length], m)), Matrices.identity(m)) == 0);
        }
    }

    @Test
    void composedMatrixHasUnitMarginalsAndBoundedDisplacement() {
        Random r = new Random(8);
        for (int n = 2; n <= 6; n++) {
            for (int trial = 0; trial < 20; trial++) {
                int k = SpectralSphere.skewSize(n);
                double[] a = new double[k], b = new double[k], s = new double[n - 1];
                for (int i = 0; i < k; i++) { a[i] = r.nextGaussian(); b[i] = r.nextGaussian(); }
                double maxS = 0;
                for (int i = 0; i < n - 1; i++) { s[i] = Math.tanh(2 * r.nextGaussian()); maxS = Math.max(maxS, Math.abs(s[i])); }
                double[][] h = SpectralSphere.compose(SpectralSphere.cayley(SpectralSphere.skew(a, n - 1)), s,
                        SpectralSphere.cayley(SpectralSphere.skew(b, n - 1)));
                assertTrue(Matrices.marginalError(h) < 1e-9, "marginals " + Matrices.marginalError(h));
                double disp = Matrices.spectralNorm(Matrices.add(h, Matrices.uniform(n), -1));
                assertTrue(disp <= 1 + 1e-12, "‖H − J‖₂ = " + disp);
                assertEquals(maxS, disp, 1e-9, "‖H − J‖₂ equals max |Σ_ii| (seed 003 eq. 34)");
                assertTrue(Matrices.spectralNorm(h) <= 1 + 1e-9, "‖H‖₂ = max(‖J‖, ‖H − J‖) ≤ 1");
            }
        }
    }

    @Test
    void batchedOpsMatchFloat64() {
        Random r = new Random(9);
        int n = 4, k = 3;
        double[] a = new double[k], b = new double[k], s = new double[n - 1];
        for (int i = 0; i < k; i++) { a[i] = r.nextGaussian(); b[i] = r.nextGaussian(); }
        for (int i = 0; i < n - 1; i++) s[i] = Math.tanh(r.nextGaussian());
        double[][] want = SpectralSphere.compose(SpectralSphere.cayley(SpectralSphere.skew(a, 3)), s, SpectralSphere.cayley(SpectralSphere.skew(b, 3)));
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray u = SpectralSphere.cayley(SpectralSphere.skew(m.create(a, new Shape(1, k)), 3));
            NDArray v = SpectralSphere.cayley(SpectralSphere.skew(m.create(b, new Shape(1, k)), 3));
            double[] got = SpectralSphere.compose(u, m.create(s, new Shape(1, n - 1)), v, n).toDoubleArray();
            for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) assertEquals(want[i][j], got[i * n + j], 1e-12);
        }
    }
}
