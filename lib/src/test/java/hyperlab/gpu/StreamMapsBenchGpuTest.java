package hyperlab.gpu;

import hyperlab.cuda.Cuda;
import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.cuda.Gpu;
import hyperlab.cuda.TestMetrics;
import hyperlab.nn.MapInit;
import hyperlab.nn.MapSpec;
import hyperlab.nn.Paradigm;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Times one block's stream maps at preset M's shape (N = 16·1024 tokens, C = 768, n = 4); a real GPU only. */
class StreamMapsBenchGpuTest {
    @Test
    void presetMShapeTimings() {
        assumeTrue(Cuda.isAvailable(), () -> "no GPU: " + Cuda.unavailableReason().orElse(""));
        Gpu gpu = Cuda.gpu();
        int tokens = 16 * 1024, c = 768, n = 4;
        Object[][] cases = {{Paradigm.HC, false}, {Paradigm.HC, true}, {Paradigm.MHC, false}, {Paradigm.MHC, true},
                {Paradigm.MHC_LITE, false}, {Paradigm.SHC, false}};
        Random rnd = new Random(7);
        try (DeviceArena a = gpu.arena()) {
            DeviceTensor x = a.alloc(DType.F32, tokens, n, c).copyFrom(StreamMapsGpuTest.random(rnd, tokens * n * c));
            DeviceTensor f = a.alloc(DType.F32, tokens, c).copyFrom(StreamMapsGpuTest.random(rnd, tokens * c));
            DeviceTensor h = a.alloc(DType.F32, tokens, c), out = a.alloc(DType.F32, tokens, n, c);
            DeviceTensor dx = a.alloc(DType.F32, tokens, n, c), df = a.alloc(DType.F32, tokens, c);
            DeviceTensor copy = a.alloc(DType.F32, tokens, n, c);
            float copyMs = median(gpu, () -> copy.copyFrom(x));
            System.out.printf(Locale.ROOT, "streammaps bench: N=%d C=%d n=%d, a device copy of x (%.0f MB) takes %.3f ms%n",
                    tokens, c, n, x.bytes() / 1e6, copyMs);
            for (Object[] cs : cases) {
                Paradigm p = (Paradigm) cs[0];
                boolean flag = (Boolean) cs[1];      // HC: dynamic; mHC: log domain
                boolean dynamic = p != Paradigm.HC || flag;
                var spec = MapSpec.of(p, n, c, dynamic, MapInit.PAPER, 0);
                Map<String, DeviceTensor> params = new LinkedHashMap<>(), grads = new LinkedHashMap<>();
                for (MapSpec.Param ps : spec) {
                    float[] v = new float[(int) ps.size()];
                    for (int i = 0; i < v.length; i++) v[i] = (float) (ps.init()[i] + 0.01 * rnd.nextGaussian());
                    params.put(ps.name(), a.alloc(DType.F32, ps.shape()).copyFrom(v));
                    grads.put(ps.name(), a.zeros(DType.F32, ps.shape()));
                }
                for (boolean fusedProjection : new boolean[] {true, false})
                try (StreamMaps sm = new StreamMaps(gpu, p, n, c, dynamic, 20, p == Paradigm.MHC && flag, tokens)) {
                    sm.useFusedProjection(fusedProjection);
                    if (!fusedProjection && !(p == Paradigm.MHC && !flag)) continue;   // the RMS pass + GEMMs for plain mHC only
                    float fwd = median(gpu, () -> {
                        sm.aggregate(x, params, h, tokens);
                        sm.merge(x, f, out, tokens);
                    });
                    float bwd = median(gpu, () -> {
                        sm.backwardMerge(out, x, f, df, tokens);
                        sm.backwardAggregate(out, h, x, grads, dx, tokens);
                    });
                    String name = p.key() + (p == Paradigm.HC ? (flag ? "-dynamic" : "-static") : p == Paradigm.MHC && flag ? "-log" : "")
                            + (fusedProjection ? "" : "-gemmproj");
                    System.out.printf(Locale.ROOT, "streammaps bench %-12s forward %.3f ms, backward %.3f ms (%.1f / %.1f copies of x)%n",
                            name, fwd, bwd, fwd / copyMs, bwd / copyMs);
                    TestMetrics.record("streammaps.bench." + name + ".forward_ms", fwd);
                    TestMetrics.record("streammaps.bench." + name + ".backward_ms", bwd);
                    assertTrue(Float.isFinite(fwd) && Float.isFinite(bwd));
                    Map<String, Float> steps = new LinkedHashMap<>();
                    sm.profile(steps);
                    int reps = 5;
                    for (int i = 0; i < reps; i++) {
                        sm.aggregate(x, params, h, tokens);
                        sm.merge(x, f, out, tokens);
                        sm.backwardMerge(out, x, f, df, tokens);
                        sm.backwardAggregate(out, h, x, grads, dx, tokens);
                    }
                    sm.profile(null);
                    StringBuilder sb = new StringBuilder();
                    steps.forEach((k, v) -> sb.append(String.format(Locale.ROOT, " %s %.3f", k, v / reps)));
                    System.out.println("streammaps bench " + name + " steps (ms, each timed alone):" + sb);
                }
            }
        }
    }

    private static float median(Gpu gpu, Runnable work) {
        for (int i = 0; i < 3; i++) work.run();
        gpu.synchronize();
        float[] t = new float[15];
        for (int i = 0; i < t.length; i++) t[i] = gpu.time(work);
        java.util.Arrays.sort(t);
        return t[t.length / 2];
    }
}
