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
        Object[][] cases = {{Paradigm.HC, false, DType.F32}, {Paradigm.HC, true, DType.F32}, {Paradigm.MHC, false, DType.F32},
                {Paradigm.MHC, true, DType.F32}, {Paradigm.MHC_LITE, false, DType.F32}, {Paradigm.SHC, false, DType.F32},
                {Paradigm.MHC, false, DType.BF16}, {Paradigm.HC, true, DType.BF16}};
        Random rnd = new Random(7);
        try (DeviceArena a = gpu.arena()) {
            float[] xv = StreamMapsGpuTest.random(rnd, tokens * n * c);
            DeviceTensor x32 = a.alloc(DType.F32, tokens, n, c).copyFrom(xv), x16 = a.alloc(DType.BF16, tokens, n, c).copyFrom(xv);
            float[] fv = StreamMapsGpuTest.random(rnd, tokens * c);
            DeviceTensor f32 = a.alloc(DType.F32, tokens, c).copyFrom(fv), f16 = a.alloc(DType.BF16, tokens, c).copyFrom(fv);
            DeviceTensor dh32 = a.alloc(DType.F32, tokens, c).copyFrom(fv), dh16 = a.alloc(DType.BF16, tokens, c).copyFrom(fv), h32 = a.alloc(DType.F32, tokens, c), h16 = a.alloc(DType.BF16, tokens, c), out32 = a.alloc(DType.F32, tokens, n, c), out16 = a.alloc(DType.BF16, tokens, n, c);
            DeviceTensor dx32 = a.alloc(DType.F32, tokens, n, c), df = a.alloc(DType.F32, tokens, c);
            DeviceTensor copy = a.alloc(DType.F32, tokens, n, c), dOut32 = a.alloc(DType.F32, tokens, n, c).copyFrom(xv),
                    dOut16 = a.alloc(DType.BF16, tokens, n, c).copyFrom(xv), dx16 = a.alloc(DType.BF16, tokens, n, c);
            float copyMs = median(gpu, () -> copy.copyFrom(x32));
            System.out.printf(Locale.ROOT, "streammaps bench: N=%d C=%d n=%d, a device copy of x (%.0f MB) takes %.3f ms%n",
                    tokens, c, n, x32.bytes() / 1e6, copyMs);
            String only = System.getProperty("streammaps.bench.streams", "").trim();   // f32 or bf16: only those cases
            for (Object[] cs : cases) {
                Paradigm p = (Paradigm) cs[0];
                boolean flag = (Boolean) cs[1];      // HC: dynamic; mHC: log domain
                DType xs = (DType) cs[2];             // how the streams are stored
                if (!only.isEmpty() && !xs.name().equalsIgnoreCase(only)) continue;
                boolean lo = xs == DType.BF16;
                DeviceTensor xin = lo ? x16 : x32, out = lo ? out16 : out32, dOut = lo ? dOut16 : dOut32, dx = lo ? dx16 : dx32, f = lo ? f16 : f32, h = lo ? h16 : h32, dh = lo ? dh16 : dh32;
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
                try (StreamMaps sm = new StreamMaps(gpu, p, n, c, dynamic, 20, p == Paradigm.MHC && flag, tokens, xs)) {
                    if (!fusedProjection && (xs == DType.BF16 || !(p == Paradigm.MHC && !flag))) continue;   // the RMS pass + GEMMs for plain mHC only
                    sm.useFusedProjection(fusedProjection);
                    float fwd = median(gpu, () -> {
                        sm.aggregate(xin, params, h, tokens);
                        sm.merge(xin, f, out, tokens);
                    });
                    float bwd = median(gpu, () -> {
                        sm.backwardMerge(dOut, xin, f, df, tokens);
                        sm.backwardAggregate(dOut, dh, xin, grads, dx, tokens);
                    });
                    String name = p.key() + (p == Paradigm.HC ? (flag ? "-dynamic" : "-static") : p == Paradigm.MHC && flag ? "-log" : "")
                            + (fusedProjection ? "" : "-gemmproj") + (xs == DType.BF16 ? "-bf16streams" : "");
                    System.out.printf(Locale.ROOT, "streammaps bench %-12s forward %.3f ms, backward %.3f ms (%.1f / %.1f copies of x)%n",
                            name, fwd, bwd, fwd / copyMs, bwd / copyMs);
                    TestMetrics.record("streammaps.bench." + name + ".forward_ms", fwd);
                    TestMetrics.record("streammaps.bench." + name + ".backward_ms", bwd);
                    assertTrue(Float.isFinite(fwd) && Float.isFinite(bwd));
                    Map<String, Float> steps = new LinkedHashMap<>();
                    sm.profile(steps);
                    int reps = 5;
                    for (int i = 0; i < reps; i++) {
                        sm.aggregate(xin, params, h, tokens);
                        sm.merge(xin, f, out, tokens);
                        sm.backwardMerge(dOut, xin, f, df, tokens);
                        sm.backwardAggregate(dOut, dh, xin, grads, dx, tokens);
                    }
                    sm.profile(null);
                    StringBuilder sb = new StringBuilder();
                    steps.forEach((k, v) -> {
                        sb.append(String.format(Locale.ROOT, " %s %.3f", k, v / reps));
                        TestMetrics.record("streammaps.bench." + name + ".step." + k + "_ms", v / reps);
                    });
                    System.out.println("streammaps bench " + name + " steps (ms, each timed alone):" + sb);
                    if (lo) mergeThatProjects(gpu, sm, p, n, c, dynamic, xin, f, out, h, params, tokens, name);
                }
            }
        }
    }

    /**
     * bf16 streams: a merge and the next block's aggregate, as two blocks of a model run them, with the next block's pack
     * and projections in its aggregate, or in the merge (sm_merge_project): that kernel's saving.
     */
    private static void mergeThatProjects(Gpu gpu, StreamMaps sm, Paradigm p, int n, int c, boolean dynamic, DeviceTensor x, DeviceTensor f,
                                          DeviceTensor out, DeviceTensor h, Map<String, DeviceTensor> params, int tokens, String name) {
        try (StreamMaps next = new StreamMaps(gpu, p, n, c, dynamic, 20, false, tokens, DType.BF16)) {
            sm.aggregate(x, params, h, tokens);
            sm.useMergeProject(true);
            float separate = median(gpu, () -> {
                sm.merge(x, f, out, tokens);
                next.aggregate(out, params, h, tokens);
            });
            float fused = median(gpu, () -> {
                sm.merge(x, f, out, tokens, next, params);
                next.aggregate(out, params, h, tokens);
            });
            System.out.printf(Locale.ROOT, "streammaps bench %s merge then the next block's aggregate: %.3f ms with its projections "
                    + "there, %.3f ms with them in the merge (%.2fx)%n", name, separate, fused, separate / fused);
            sm.useMergeProject(false);
            TestMetrics.record("streammaps.bench." + name + ".merge_next_aggregate_ms", separate);
            TestMetrics.record("streammaps.bench." + name + ".merge_projecting_next_aggregate_ms", fused);
            assertTrue(Float.isFinite(separate) && Float.isFinite(fused));
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
