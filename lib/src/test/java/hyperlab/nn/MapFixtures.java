package hyperlab.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/** Random, non-initial map parameters (so every term of the maps matters) in float64 and as NDArrays. */
final class MapFixtures {
    private MapFixtures() {}

    static Map<String, double[]> randomWeights(Paradigm p, int n, int width, boolean dynamic, Random r) {
        Map<String, double[]> w = new LinkedHashMap<>();
        for (MapSpec.Param s : MapSpec.of(p, n, width, dynamic, MapInit.PAPER, 0)) {
            double[] v = new double[(int) s.size()];
            for (int i = 0; i < v.length; i++)
                v[i] = s.name().startsWith("tau") || s.name().startsWith("gamma") || s.name().startsWith("alpha")
                        ? 0.5 + r.nextDouble() : (s.name().startsWith("phi") || s.name().startsWith("w_") ? 0.4 : 1.0) * r.nextGaussian();
            w.put(s.name(), v);
        }
        return w;
    }

    static Map<String, NDArray> toNd(NDManager m, Paradigm p, int n, int width, boolean dynamic, Map<String, double[]> w, boolean float64) {
        Map<String, NDArray> out = new LinkedHashMap<>();
        for (MapSpec.Param s : MapSpec.of(p, n, width, dynamic, MapInit.PAPER, 0)) {
            NDArray a = m.create(w.get(s.name()), new Shape(s.shape()));
            out.put(s.name(), float64 ? a : a.toType(ai.djl.ndarray.types.DataType.FLOAT32, false));
        }
        return out;
    }

    /** The paradigms and stream counts every map test sweeps; HC appears with and without its dynamic part. */
    record Case(Paradigm paradigm, int n, boolean dynamic) {
        @Override public String toString() { return paradigm.key() + (dynamic ? "" : "-static") + " n=" + n; }
    }

    static java.util.List<Case> cases() {
        java.util.List<Case> out = new java.util.ArrayList<>();
        for (int n = 1; n <= 4; n++) {
            out.add(new Case(Paradigm.HC, n, true));
            out.add(new Case(Paradigm.HC, n, false));
            out.add(new Case(Paradigm.MHC, n, true));
            out.add(new Case(Paradigm.MHC_LITE, n, true));
            out.add(new Case(Paradigm.SHC, n, true));
        }
        return out;
    }
}
