package hyperlab.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import java.util.Map;
import java.util.Random;
import java.util.function.ToDoubleFunction;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;

/** The DJL maps against the float64 loops of {@link ReferenceMaps}: values in float32, gradients in float64. */
class ResidualMapsTest {
    static final int C = 3, TOKENS = 2;

    static java.util.List<MapFixtures.Case> cases() { return MapFixtures.cases(); }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void float32MapsAndBlockUpdateMatchTheFloat64Reference(MapFixtures.Case c) {
        Random r = new Random(31 + c.n());
        int n = c.n();
        Map<String, double[]> w = MapFixtures.randomWeights(c.paradigm(), n, C, c.dynamic(), r);
        double[][][] x = randomStreams(r, n);
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray xs = m.create(flatten(x), new Shape(1, TOKENS, n, C)).toType(ai.djl.ndarray.types.DataType.FLOAT32, false);
            var maps = ResidualMaps.compute(c.paradigm(), n, c.dynamic(), 20, false, MapFixtures.toNd(m, c.paradigm(), n, C, c.dynamic(), w, false), xs);
            NDArray out = ResidualMaps.merge(maps, xs, ResidualMaps.aggregate(maps.pre(), xs).tanh());
            double[] pre = maps.pre().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
            double[] res = maps.res().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
            double[] got = out.toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
            for (int t = 0; t < TOKENS; t++) {
                ReferenceMaps.Maps ref = ReferenceMaps.compute(c.paradigm(), n, c.dynamic(), 20, w, x[t]);
                double[][] want = ReferenceMaps.merge(ref, x[t], tanh(ReferenceMaps.aggregate(ref.pre(), x[t])));
                for (int i = 0; i < n; i++) {
                    assertEquals(ref.pre()[i], pre[t * n + i], 1e-5, "H_pre");
                    for (int j = 0; j < n; j++) assertEquals(ref.res()[i][j], res[(t * n + i) * n + j], 1e-5, "H_res");
                    for (int j = 0; j < C; j++) assertEquals(want[i][j], got[(t * n + i) * C + j], 1e-5, "block output");
                }
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void autogradMatchesCentralFiniteDifferencesInFloat64(MapFixtures.Case c) {
        Random r = new Random(77 + c.n());
        int n = c.n();
        Map<String, double[]> w = MapFixtures.randomWeights(c.paradigm(), n, C, c.dynamic(), r);
        double[][][] x = randomStreams(r, n);
        double[] probe = new double[TOKENS * n * C];
        for (int i = 0; i < probe.length; i++) probe[i] = r.nextGaussian();

        ToDoubleFunction<Map<String, double[]>> refLoss = ww -> {
            double l = 0;
            for (int t = 0; t < TOKENS; t++) {
                ReferenceMaps.Maps ref = ReferenceMaps.compute(c.paradigm(), n, c.dynamic(), 20, ww, x[t]);
                double[][] o = ReferenceMaps.merge(ref, x[t], tanh(ReferenceMaps.aggregate(ref.pre(), x[t])));
                for (int i = 0; i < n; i++) for (int j = 0; j < C; j++) l += probe[(t * n + i) * C + j] * o[i][j];
            }
            return l;
        };

        try (NDManager m = NDManager.newBaseManager()) {
            Map<String, NDArray> nd = MapFixtures.toNd(m, c.paradigm(), n, C, c.dynamic(), w, true);
            NDArray xs = m.create(flatten(x), new Shape(1, TOKENS, n, C));
            nd.values().forEach(a -> a.setRequiresGradient(true));
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                var maps = ResidualMaps.compute(c.paradigm(), n, c.dynamic(), 20, false, nd, xs);
                NDArray out = ResidualMaps.merge(maps, xs, ResidualMaps.aggregate(maps.pre(), xs).tanh());
                NDArray loss = out.mul(m.create(probe, out.getShape())).sum();
                assertEquals(refLoss.applyAsDouble(w), loss.getDouble(), 1e-10, "forward loss");
                gc.backward(loss);
            }
            double h = 1e-6, worst = 0;
            for (var e : w.entrySet()) {
                double[] g = nd.get(e.getKey()).getGradient().toDoubleArray();
                double[] v = e.getValue();
                for (int i = 0; i < v.length; i++) {
                    double keep = v[i];
                    v[i] = keep + h;
                    double up = refLoss.applyAsDouble(w);
                    v[i] = keep - h;
                    double down = refLoss.applyAsDouble(w);
                    v[i] = keep;
                    double fd = (up - down) / (2 * h);
                    double err = Math.abs(fd - g[i]) / Math.max(1, Math.abs(fd));
                    worst = Math.max(worst, err);
                    assertTrue(err < 1e-6, c + " d/d" + e.getKey() + "[" + i + "]: autograd " + g[i] + " vs finite difference " + fd);
                }
            }
            assertTrue(worst < 1e-6);
        }
    }

    @Test
    void nanInTheStreamsIsRejected() {
        Map<String, double[]> w = MapFixtures.randomWeights(Paradigm.MHC, 2, 2, true, new Random(1));
        var e = assertThrows(IllegalArgumentException.class,
                () -> ReferenceMaps.compute(Paradigm.MHC, 2, true, 20, w, new double[][] {{1, 2}, {Double.NaN, 0}}));
        assertTrue(e.getMessage().startsWith("x[1][0] = NaN"), e.getMessage());
    }

    static double[][][] randomStreams(Random r, int n) {
        double[][][] x = new double[TOKENS][n][C];
        for (double[][] tok : x) for (double[] s : tok) for (int j = 0; j < C; j++) s[j] = r.nextGaussian();
        return x;
    }

    static double[] flatten(double[][][] x) {
        int n = x[0].length;
        double[] f = new double[TOKENS * n * C];
        for (int t = 0; t < TOKENS; t++) for (int i = 0; i < n; i++) System.arraycopy(x[t][i], 0, f, (t * n + i) * C, C);
        return f;
    }

    static double[] tanh(double[] v) {
        double[] o = new double[v.length];
        for (int i = 0; i < v.length; i++) o[i] = Math.tanh(v[i]);
        return o;
    }
}
