package hyperlab.gpu;

import hyperlab.diag.Gains;
import hyperlab.manifold.Matrices;
import hyperlab.train.Metrics;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The GPU comparison's composite gain is the diagnostics package's Amax gain of the worst token's product. */
class GpuCompareTest {
    @Test
    void compositeGainsMatchTheDiagnosticsOfTheWorstToken() {
        int n = 3, tokens = 4, blocks = 5;
        Random r = new Random(2);
        List<StreamMaps.Maps> maps = new ArrayList<>();
        for (int b = 0; b < blocks; b++) {
            float[] res = new float[tokens * n * n];
            for (int i = 0; i < res.length; i++) res[i] = (float) (r.nextGaussian() * 0.6 + (i % (n * n) % (n + 1) == 0 ? 1 : 0));
            maps.add(new StreamMaps.Maps(tokens, n, new float[tokens * n], new float[tokens * n], res));
        }
        double fwd = 0, bwd = 0;
        for (int t = 0; t < tokens; t++) {
            double[][] c = Matrices.identity(n);
            for (StreamMaps.Maps m : maps) {
                double[][] h = new double[n][n];
                for (int i = 0; i < n * n; i++) h[i / n][i % n] = m.res()[t * n * n + i];
                c = Matrices.multiply(h, c);
            }
            fwd = Math.max(fwd, Gains.forward(c));
            bwd = Math.max(bwd, Gains.backward(c));
        }
        assertArrayEquals(new double[] {fwd, bwd}, GpuCompare.compositeGains(maps), 1e-12);
        assertEquals(1.0, GpuCompare.compositeGains(List.of())[0]);
    }

    @Test
    void curveRowsKeepEveryLoggedStepAndLeaveUnevaluatedValEmpty() {
        List<Metrics> h = List.of(new Metrics(1, 10.5, Double.NaN, 1e-3, 2, 100, 0.1, false),
                new Metrics(2, 9.25, 9.5, 1e-3, 2, 100, 0.2, false));
        assertEquals(List.of("mhc,1,10.500000,", "mhc,2,9.250000,9.500000"), GpuCompare.curveRows("mhc", h).lines().toList());
    }
}
