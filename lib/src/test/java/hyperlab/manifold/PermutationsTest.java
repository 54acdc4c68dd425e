package hyperlab.manifold;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PermutationsTest {
    @Test
    void enumeratesAllDistinctPermutationsWithIdentityFirst() {
        for (int n = 1; n <= 6; n++) {
            List<int[]> perms = Permutations.of(n);
            long fact = 1;
            for (int i = 2; i <= n; i++) fact *= i;
            assertEquals(fact, perms.size());
            Set<String> seen = new HashSet<>();
            for (int[] p : perms) assertTrue(seen.add(java.util.Arrays.toString(p)));
            int[] id = new int[n];
            for (int i = 0; i < n; i++) id[i] = i;
            assertArrayEquals(id, perms.get(0));
        }
    }

    @Test
    void softmaxMixIsExactlyDoublyStochastic() {
        Random r = new Random(5);
        for (int n = 2; n <= 5; n++) {
            double[] a = new double[Permutations.count(n)];
            for (int i = 0; i < a.length; i++) a[i] = 3 * r.nextGaussian();
            double[][] h = Permutations.mix(Permutations.softmax(a), n);
            assertTrue(Matrices.marginalError(h) < 1e-14, "n=" + n + ": " + Matrices.marginalError(h));
            for (double[] row : h) for (double v : row) assertTrue(v >= 0);
        }
    }

    @Test
    void batchedMixMatchesFloat64() {
        Random r = new Random(6);
        try (NDManager m = NDManager.newBaseManager()) {
            double[] a = new double[24];
            for (int i = 0; i < 24; i++) a[i] = r.nextGaussian();
            double[] got = Permutations.mix(m.create(a, new Shape(1, 24)), 4).toDoubleArray();
            double[][] want = Permutations.mix(Permutations.softmax(a), 4);
            for (int i = 0; i < 4; i++) for (int j = 0; j < 4; j++) assertEquals(want[i][j], got[i * 4 + j], 1e-12);
        }
    }

    @Test
    void tooManyStreamsIsAClearError() {
        var e = assertThrows(IllegalArgumentException.class, () -> Permutations.of(7));
        assertTrue(e.getMessage().contains("streams n = 7") && e.getMessage().contains("1 <= n <= 6"), e.getMessage());
    }
}
