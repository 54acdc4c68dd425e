package hyperlab.manifold;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class MatricesTest {
    @Test
    void inverseTimesMatrixIsIdentity() {
        Random r = new Random(10);
        double[][] a = new double[5][5];
        for (double[] row : a) for (int j = 0; j < 5; j++) row[j] = r.nextGaussian();
        assertTrue(Matrices.maxAbsDiff(Matrices.multiply(a, Matrices.inverse(a)), Matrices.identity(5)) < 1e-10);
        assertThrows(ArithmeticException.class, () -> Matrices.inverse(new double[][] {{1, 2}, {2, 4}}));
    }

    @Test
    void spectralNormOfKnownMatrices() {
        assertEquals(3, Matrices.spectralNorm(new double[][] {{3, 0}, {0, -2}}), 1e-12);
        assertEquals(1, Matrices.spectralNorm(Matrices.uniform(4)), 1e-12);
        // [[1,1],[0,1]] has singular values (1 ± √5)/2 in magnitude: the golden ratio
        assertEquals((1 + Math.sqrt(5)) / 2, Matrices.spectralNorm(new double[][] {{1, 1}, {0, 1}}), 1e-12);
        // rotation-invariant: ‖QA‖ = ‖A‖ for an orthogonal Q
        double c = Math.cos(0.7), s = Math.sin(0.7);
        assertEquals(5, Matrices.spectralNorm(Matrices.multiply(new double[][] {{c, -s}, {s, c}}, new double[][] {{5, 0}, {0, 1}})), 1e-12);
    }
}
