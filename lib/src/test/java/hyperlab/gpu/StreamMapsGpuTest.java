package hyperlab.gpu;

import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.cuda.Gpu;
import hyperlab.cuda.TestMetrics;
import hyperlab.nn.MapInit;
import hyperlab.nn.MapSpec;
import hyperlab.nn.Paradigm;
import hyperlab.nn.ReferenceMaps;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * StreamMaps on the GPU (or the CPU emulator) against float64: the forward maps, h and out against ReferenceMaps, and
 * dx, df and every parameter gradient against central finite differences of L = Σ w1·h + Σ w2·out, with the block
 * written out in float64 here from ReferenceMaps. Random, non-initial parameters; random N and C.
 * -Dstreammaps.only=mhc (a paradigm key) restricts the cases.
 */
class StreamMapsGpuTest {
    static final double FWD_BAR = 1e-5, BWD_BAR = 1e-4;
    /**
     * The scalar parameters (α, τ, γ) have one gradient, a sum over every token and stream of terms that may cancel, so
     * fp32 gets it right to ~1e-7 of Σ_t |∂L_t/∂θ|, not of |∂L/∂θ|: their error is measured against that scale (the
     * per-token terms come from float64 finite differences too), and relative to their value only up to SCALAR_PLAIN_BAR.
     */
    static final double SCALAR_PLAIN_BAR = 1e-3;
    private static Gpu gpu;
    private static final Map<String, double[]> WORST = new TreeMap<>();   // paradigm -> {forward, backward}

    record Case(Paradigm p, int n, boolean dynamic, int iterations, boolean log, boolean fused) {
        Case(Paradigm p, int n, boolean dynamic, int iterations, boolean log) {
            this(p, n, dynamic, iterations, log, true);
        }

        String label() {
            return p.key() + (p == Paradigm.HC ? (dynamic ? "-dynamic" : "-static") : "")
                    + (p == Paradigm.MHC ? (log ? "-log" : "") + "-it" + iterations : "") + (fused ? "" : " (GEMM projection)") + " n=" + n;
        }

        String family() {
            return p.key() + (p == Paradigm.HC ? (dynamic ? "-dynamic" : "-static") : "") + (p == Paradigm.MHC && log ? "-log" : "");
        }
    }

    @BeforeAll
    static void setUp() {
        gpu = TestDevices.gpuOrEmulator().orElse(null);
    }

    @AfterAll
    static void summary() {
        WORST.forEach((k, v) -> {
            TestMetrics.record("streammaps." + k + ".forward_worst_rel", v[0]);
            TestMetrics.record("streammaps." + k + ".backward_worst_rel", v[1]);
            TestMetrics.record("streammaps." + k + ".scalar_grad_worst_plain_rel", v[2]);
        });
    }

    static List<Case> cases() {
        List<Case> out = new ArrayList<>();
        for (int n = 1; n <= 4; n++) {
            out.add(new Case(Paradigm.HC, n, true, 20, false));
            out.add(new Case(Paradigm.HC, n, false, 20, false));
            out.add(new Case(Paradigm.MHC, n, true, 20, false));
            out.add(new Case(Paradigm.MHC_LITE, n, true, 20, false));
            out.add(new Case(Paradigm.SHC, n, true, 20, false));
        }
        out.add(new Case(Paradigm.MHC, 2, true, 20, true));
        out.add(new Case(Paradigm.MHC, 4, true, 20, true));
        out.add(new Case(Paradigm.MHC, 3, true, 7, false));
        out.add(new Case(Paradigm.MHC, 4, true, 5, true));
        out.add(new Case(Paradigm.MHC_LITE, 5, true, 20, false));
        out.add(new Case(Paradigm.MHC_LITE, 6, true, 20, false));
        out.add(new Case(Paradigm.HC, 6, true, 20, false));
        out.add(new Case(Paradigm.MHC, 6, true, 20, false));
        out.add(new Case(Paradigm.MHC, 4, true, 20, false, false));
        out.add(new Case(Paradigm.HC, 2, true, 20, false, false));
        out.add(new Case(Paradigm.SHC, 3, true, 20, false, false));
        out.add(new Case(Paradigm.MHC_LITE, 3, true, 20, false, false));
        out.add(new Case(Paradigm.SHC, 6, true, 20, false));
        String only = System.getProperty("streammaps.only");
        if (only != null && !only.isBlank()) out.removeIf(c -> !c.p().key().equals(only.trim()));
        return out;
    }

    @TestFactory
    List<DynamicTest> forwardAndBackwardMatchFloat64() {
        List<DynamicTest> tests = new ArrayList<>();
        int seed = 100;
        for (Case c : cases()) {
            int s = seed++;
            tests.add(DynamicTest.dynamicTest(c.label(), () -> {
                assumeTrue(gpu != null, TestDevices::why);
                check(c, s);
            }));
        }
        return tests;
    }

    /**
     * The fused projection (sm_project: several 64-token blocks, a last partial chunk of vec(x), Φ_cat widths 24, 12
     * and 17 with their padding) gives the same maps, h, dx and parameter gradients as the RMS pass + GEMM, which the
     * float64 tests check.
     */
    @ParameterizedTest(name = "{0} n={1}")
    @CsvSource({"MHC, 4", "MHC_LITE, 3", "SHC, 4"})
    void fusedProjectionsMatchTheGemmPath(Paradigm p, int n) {
        assumeTrue(gpu != null, TestDevices::why);
        int tokens = 150, c = 72;                    // D = n·c: 288 = 4.5 chunks of 64 (n = 4), 216 (n = 3)
        Random rnd = new Random(5);
        var spec = MapSpec.of(p, n, c, true, MapInit.PAPER, 0);
        try (DeviceArena a = gpu.arena()) {
            Map<String, DeviceTensor> params = perturbedParams(a, spec, rnd);
            DeviceTensor x = a.of(DType.F32, random(rnd, tokens * n * c), tokens, n, c);
            DeviceTensor f = a.of(DType.F32, random(rnd, tokens * c), tokens, c);
            DeviceTensor dOut = a.of(DType.F32, random(rnd, tokens * n * c), tokens, n, c);
            DeviceTensor dh = a.of(DType.F32, random(rnd, tokens * c), tokens, c);
            List<Map<String, float[]>> runs = new ArrayList<>();
            for (boolean fused : new boolean[] {false, true})
                try (StreamMaps sm = new StreamMaps(gpu, p, n, c, true, 20, false, tokens)) {
                    sm.useFusedProjection(fused);
                    runs.add(runBlock(sm, a, spec, params, x, f, dOut, dh, tokens));
                }
            Map<String, Double> errors = new LinkedHashMap<>();
            runs.get(0).forEach((k, want) -> errors.put(k, TestMetrics.relError(runs.get(1).get(k), toDouble(want))));
            // a scalar's gradient is a sum that may cancel: held to its value only up to SCALAR_PLAIN_BAR, as above
            assertTrue(errors.entrySet().stream().allMatch(e -> e.getValue() < (runs.get(0).get(e.getKey()).length == 1 ? SCALAR_PLAIN_BAR : 1e-5)),
                    "fused vs GEMM path: " + errors);
        }
    }

    /**
     * bf16 streams compute what fp32 streams compute from the same (bf16-representable) values of x, dOut, f and dh
     * (stored as the streams are): the maps,
     * df and every parameter gradient agree within 3e-5 (scalars within SCALAR_PLAIN_BAR; the tensor-core products of
     * bf16 x with Φ_cat split into two bf16 parts), and h, out and dx are the fp32 path's rounded to bf16, give or take
     * half a bf16 step plus 1e-4 of their rms.
     * The fp32 path is held to float64 above, so this chains the bf16 kernels to the same reference. The widths take the
     * 16-byte paths and the tensor-core backward (C % 8 == 0) and the element paths (C % 8 != 0, and C % 4 != 0 for the
     * merge and aggregate).
     */
    /**
     * The tensor-core operands' split copies that sm_pack (Φ_cat) and sm_dots_maps_backward (r·dz) write for bf16 streams
     * hold each value v as bf16(v) then bf16(v - bf16(v)) (Java's round-to-nearest-even, not the kernels'), a row of
     * Φ_cat as [highs | remainders] over M in whole n8 tiles and a row of r·dz over M in whole k16 steps, zeros past M.
     */
    @ParameterizedTest(name = "{0} n={1} C={2}")
    @CsvSource({"MHC, 4, 72", "SHC, 4, 40", "MHC_LITE, 3, 24"})
    void splitCopiesHoldHighPartsAndRemainders(Paradigm p, int n, int c) {
        assumeTrue(gpu != null, TestDevices::why);
        int tokens = 83;
        Random rnd = new Random(5);
        var spec = MapSpec.of(p, n, c, true, MapInit.PAPER, 0);
        try (DeviceArena a = gpu.arena(); StreamMaps sm = new StreamMaps(gpu, p, n, c, true, 20, false, tokens, DType.BF16)) {
            Map<String, DeviceTensor> params = perturbedParams(a, spec, rnd);
            DeviceTensor x = a.alloc(DType.BF16, tokens, n, c).copyFrom(random(rnd, tokens * n * c));
            DeviceTensor f = a.alloc(DType.BF16, tokens, c).copyFrom(random(rnd, tokens * c));
            DeviceTensor dOut = a.alloc(DType.BF16, tokens, n, c).copyFrom(random(rnd, tokens * n * c));
            DeviceTensor dh = a.alloc(DType.BF16, tokens, c).copyFrom(random(rnd, tokens * c));
            runBlock(sm, a, spec, params, x, f, dOut, dh, tokens);
            StreamMaps.Operands o = sm.operands();
            int m = sm.layout().columns();
            assertNotNull(o.phiSplit(), "bf16 streams keep Φ_cat's split copy");
            assertNotNull(o.dzSplit(), "the streams' backward on tensor cores reads r·dz's split copy");
            assertSplit(o.phi().toFloatArray(), o.phiSplit().toFloatArray(), n * c, m, (m + 7) / 8 * 8, "Φ_cat");
            assertSplit(o.dz().toFloatArray(), o.dzSplit().toFloatArray(), tokens, m, (m + 15) / 16 * 16, "r·dz");
        }
    }

    /** Values [rows][m] against their split copy [rows][2·half], element by element. */
    private static void assertSplit(float[] values, float[] split, int rows, int m, int half, String what) {
        int nonzero = 0;
        for (int r = 0; r < rows; r++)
            for (int k = 0; k < half; k++) {
                float v = k < m ? values[r * m + k] : 0f, hi = DType.bf16ToFloat(DType.floatToBf16(v));
                float lo = DType.bf16ToFloat(DType.floatToBf16(v - hi));
                assertEquals(hi, split[r * 2 * half + k], what + " row " + r + " column " + k + ": high part of " + v);
                assertEquals(lo, split[r * 2 * half + half + k], what + " row " + r + " column " + k + ": remainder of " + v);
                if (lo != 0) nonzero++;
            }
        assertTrue(nonzero > rows, what + ": the remainders carry the bits bf16 drops (" + nonzero + " nonzero)");
    }

    @ParameterizedTest(name = "{0} n={1} dynamic={2} C={3}")
    @CsvSource({"MHC, 4, true, 72", "MHC, 4, true, 30", "HC, 3, true, 40", "HC, 2, false, 44", "MHC_LITE, 3, true, 24",
            "SHC, 4, true, 36"})
    void bf16StreamsMatchFp32StreamsOnTheSameValues(Paradigm p, int n, boolean dynamic, int c) {
        assumeTrue(gpu != null, TestDevices::why);
        int tokens = 83;                              // tiles of 16 and 64 tokens with a partial last one
        Random rnd = new Random(11);
        var spec = MapSpec.of(p, n, c, dynamic, MapInit.PAPER, 0);
        float[] xv = random(rnd, tokens * n * c), gv = random(rnd, tokens * n * c);
        for (int i = 0; i < xv.length; i++) {
            xv[i] = DType.bf16ToFloat(DType.floatToBf16(xv[i]));
            gv[i] = DType.bf16ToFloat(DType.floatToBf16(gv[i]));
        }
        try (DeviceArena a = gpu.arena()) {
            Map<String, DeviceTensor> params = perturbedParams(a, spec, rnd);
            float[] fv = random(rnd, tokens * c), hv = random(rnd, tokens * c);
            for (float[] v : List.of(fv, hv)) for (int i = 0; i < v.length; i++) v[i] = DType.bf16ToFloat(DType.floatToBf16(v[i]));
            List<Map<String, float[]>> runs = new ArrayList<>();
            for (DType xs : new DType[] {DType.F32, DType.BF16})
                try (StreamMaps sm = new StreamMaps(gpu, p, n, c, dynamic, 20, false, tokens, xs)) {
                    assertEquals(xs, sm.streamType());
                    DeviceTensor x = a.alloc(xs, tokens, n, c).copyFrom(xv), dOut = a.alloc(xs, tokens, n, c).copyFrom(gv);
                    DeviceTensor f = a.alloc(xs, tokens, c).copyFrom(fv), dh = a.alloc(xs, tokens, c).copyFrom(hv);
                    runs.add(runBlock(sm, a, spec, params, x, f, dOut, dh, tokens));
                }
            // bf16 x meets Φ_cat, split into bf16 high parts and remainders, on tensor cores (projections; the streams' backward
            // where tensorCoreBackward): within ~2^-16 of fp32's products, absolute on terms of the result's size, which sHC's
            // Cayley maps amplify ~4x. So out and dx may round to a neighbouring bf16 where their terms cancel: held to half a
            // bf16 step plus 1e-4 of their rms
            int moved = 0;
            for (String k : List.of("h", "out", "dx")) moved += assertNearRounding(k, runs.get(0).get(k), runs.get(1).get(k), 0.5);
            Map<String, Double> errors = new LinkedHashMap<>();
            runs.get(0).forEach((k, want) -> {
                if (!List.of("h", "out", "dx").contains(k)) errors.put(k, relErrorOrAbs(runs.get(1).get(k), toDouble(want)));
            });
            System.out.println("streammaps bf16 streams " + p.key() + " n=" + n + " C=" + c + (StreamMaps.tensorCoreBackward(p, n, c, dynamic)
                    ? " (tensor-core backward)" : "") + ", h, out and dx not fp32's rounded at " + moved + " of " + (2 * runs.get(0).get("dx").length + runs.get(0).get("h").length)
                    + ": " + fmt(errors));
            // a scalar's gradient is a sum that may cancel: held to its value only up to SCALAR_PLAIN_BAR, as above
            assertTrue(errors.entrySet().stream().allMatch(e -> e.getValue() < (runs.get(0).get(e.getKey()).length == 1 ? SCALAR_PLAIN_BAR : 3e-5)),
                    "bf16 vs fp32 streams on the same values: " + errors);
        }
    }

    /**
     * A merge that also projects for the next block (sm_merge_project, bf16 streams) writes out bit for bit as merge does,
     * and the next block's maps, df and parameter gradients are within 1e-5 of those from its own projections (the same
     * fp32 sums in another order; scalars within SCALAR_PLAIN_BAR), its h and dx (bf16 both ways) within a bf16 step plus
     * 1e-4 of their rms. Three blocks of 64 tokens (the last partial) and column blocks of 64 (C = 72, 136: a partial last one).
     * An aggregate with other params than the merge projected for computes its maps itself: bit for bit the plain path.
     */
    @ParameterizedTest(name = "{0} n={1} C={2}")
    @CsvSource({"MHC, 4, 72", "MHC_LITE, 3, 24", "SHC, 4, 136", "HC, 2, 40"})
    void mergeThatProjectsMatchesMergeThenProject(Paradigm p, int n, int c) {
        assumeTrue(gpu != null, TestDevices::why);
        int tokens = 150;
        Random rnd = new Random(17);
        var spec = MapSpec.of(p, n, c, true, MapInit.PAPER, 0);
        try (DeviceArena a = gpu.arena()) {
            Map<String, DeviceTensor> first = perturbedParams(a, spec, rnd), second = perturbedParams(a, spec, rnd);
            DeviceTensor x = a.alloc(DType.BF16, tokens, n, c).copyFrom(random(rnd, tokens * n * c));
            DeviceTensor f = a.alloc(DType.BF16, tokens, c).copyFrom(random(rnd, tokens * c));
            DeviceTensor f2 = a.alloc(DType.BF16, tokens, c).copyFrom(random(rnd, tokens * c));
            DeviceTensor dOut = a.alloc(DType.BF16, tokens, n, c).copyFrom(random(rnd, tokens * n * c));
            DeviceTensor dh = a.alloc(DType.BF16, tokens, c).copyFrom(random(rnd, tokens * c));
            List<Map<String, float[]>> runs = new ArrayList<>();
            List<Map<String, Float>> steps = new ArrayList<>();
            for (int run = 0; run < 3; run++)                   // plain; projecting; projecting, then other params
                try (StreamMaps one = new StreamMaps(gpu, p, n, c, true, 20, false, tokens, DType.BF16);
                     StreamMaps two = new StreamMaps(gpu, p, n, c, true, 20, false, tokens, DType.BF16)) {
                    Map<String, Float> timed = new TreeMap<>();   // the steps the first block runs, then the second's
                    one.useMergeProject(true);
                    one.profile(timed);
                    DeviceTensor out = a.alloc(DType.BF16, tokens, n, c);
                    one.aggregate(x, first, a.alloc(DType.BF16, tokens, c), tokens);
                    if (run == 0) one.merge(x, f, out, tokens);
                    else one.merge(x, f, out, tokens, two, second);
                    timed.keySet().removeIf(k -> !k.startsWith("fwd.merge"));
                    two.profile(timed);
                    Map<String, float[]> got = runBlock(two, a, spec, run == 2 ? new LinkedHashMap<>(second) : second, out, f2, dOut, dh, tokens);
                    got.put("merged", out.toFloatArray());
                    runs.add(got);
                    steps.add(timed);
                }
            assertTrue(steps.get(1).containsKey("fwd.merge_project") && !steps.get(1).containsKey("fwd.project"),
                    "the projecting merge ran instead of the next block's projections: " + steps.get(1).keySet());
            assertTrue(steps.get(2).containsKey("fwd.project"), "other params: the next block's projections ran: " + steps.get(2).keySet());
            runs.get(0).forEach((k, want) -> {                   // (dbias's atomics: compared within 1e-5 below)
                if (!k.equals("dbias")) assertArrayEquals(want, runs.get(2).get(k), k + ": other params than projected for");
            });
            assertArrayEquals(runs.get(0).get("merged"), runs.get(1).get("merged"), "out");
            int moved = 0;
            for (String k : List.of("h", "dx")) moved += assertNearRounding(k, runs.get(0).get(k), runs.get(1).get(k), 1);
            Map<String, Double> errors = new LinkedHashMap<>();
            runs.get(0).forEach((k, want) -> {
                if (!List.of("h", "out", "dx", "merged").contains(k)) errors.put(k, relErrorOrAbs(runs.get(1).get(k), toDouble(want)));
            });
            System.out.println("streammaps merge projecting " + p.key() + " n=" + n + " C=" + c + ", h and dx at a neighbouring bf16 at "
                    + moved + " of " + (runs.get(0).get("h").length + runs.get(0).get("dx").length) + ": " + fmt(errors));
            assertTrue(errors.entrySet().stream().allMatch(e -> e.getValue() < (runs.get(0).get(e.getKey()).length == 1 ? SCALAR_PLAIN_BAR : 1e-5)),
                    "merge projecting vs merge then projections: " + errors);
        }
    }

    /**
     * aggregateNormalized on bf16 streams (sm_aggregate_layernorm) writes h, ln, mean and rstd bit for bit as aggregate
     * then the engine's LayerNorm of h; on fp32 streams it declines (false) and writes h as aggregate does. 83 tokens (a
     * partial last block of 8 warps), C = 72 (a lane with one chunk of 4 columns, most with none past the first) and 520.
     */
    @ParameterizedTest(name = "n={0} C={1}")
    @CsvSource({"4, 72", "3, 520"})
    void aggregateWithItsLayerNormIsTheTwoKernelsBitForBit(int n, int c) {
        assumeTrue(gpu != null, TestDevices::why);
        int tokens = 83;
        Random rnd = new Random(29);
        var spec = MapSpec.of(Paradigm.MHC, n, c, true, MapInit.PAPER, 0);
        Kernels k = new Kernels(gpu);
        try (DeviceArena a = gpu.arena()) {
            Map<String, DeviceTensor> params = perturbedParams(a, spec, rnd);
            float[] xv = random(rnd, tokens * n * c);
            DeviceTensor gamma = a.alloc(DType.F32, c).copyFrom(random(rnd, c)), beta = a.alloc(DType.F32, c).copyFrom(random(rnd, c));
            for (DType xs : new DType[] {DType.BF16, DType.F32})
                try (StreamMaps sm = new StreamMaps(gpu, Paradigm.MHC, n, c, true, 20, false, tokens, xs)) {
                    DeviceTensor x = a.alloc(xs, tokens, n, c).copyFrom(xv);
                    List<float[]> runs = new ArrayList<>();
                    for (boolean fused : new boolean[] {false, true}) {
                        DeviceTensor h = a.alloc(xs, tokens, c), ln = a.zeros(DType.BF16, tokens, c);
                        DeviceTensor mean = a.zeros(DType.F32, tokens), rstd = a.zeros(DType.F32, tokens);
                        if (fused) assertEquals(xs == DType.BF16, sm.aggregateNormalized(x, params, h, ln, mean, rstd, gamma, beta, tokens));
                        else {
                            sm.aggregate(x, params, h, tokens);
                            if (xs == DType.BF16) k.layerNorm(ln, mean, rstd, h, gamma, beta, tokens, c);
                        }
                        runs.addAll(List.of(h.toFloatArray(), ln.toFloatArray(), mean.toFloatArray(), rstd.toFloatArray()));
                    }
                    String[] names = {"h", "ln", "mean", "rstd"};
                    for (int i = 0; i < names.length; i++)
                        assertArrayEquals(runs.get(i), runs.get(i + names.length), names[i] + " with " + xs + " streams");
                }
        }
    }

    /**
     * The kernels' blockings that -Dhyperlab.streammaps.options may set (tokens a block of the projections, of the dots and
     * maps' backward, the dots' unrolling) and Sinkhorn's shared reciprocals move no sum between threads: every result is
     * the default build's bit for bit (the bias gradient's atomics within 1e-6). 150 tokens: a partial last block at every size.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"-DSM_PT=16 -DSM_DM_TOKENS=8", "-DSM_PT=32 -DSM_DM_TOKENS=16 -DSM_DM_UNROLL=2", "-DSM_PT=64 -DSM_DM_UNROLL=3",
                            "-DSM_SK_SHARE=1"})
    void tunedBlockingsGiveTheDefaultResults(String options) {
        assumeTrue(gpu != null, TestDevices::why);
        int tokens = 150, n = 4, c = 72;
        Random rnd = new Random(23);
        var spec = MapSpec.of(Paradigm.MHC, n, c, true, MapInit.PAPER, 0);
        try (DeviceArena a = gpu.arena()) {
            Map<String, DeviceTensor> params = perturbedParams(a, spec, rnd);
            DeviceTensor x = a.alloc(DType.BF16, tokens, n, c).copyFrom(random(rnd, tokens * n * c));
            DeviceTensor f = a.alloc(DType.BF16, tokens, c).copyFrom(random(rnd, tokens * c));
            DeviceTensor dOut = a.alloc(DType.BF16, tokens, n, c).copyFrom(random(rnd, tokens * n * c));
            DeviceTensor dh = a.alloc(DType.BF16, tokens, c).copyFrom(random(rnd, tokens * c));
            List<Map<String, float[]>> runs = new ArrayList<>();
            for (String o : new String[] {"", options}) {
                System.setProperty("hyperlab.streammaps.options", o);
                try (StreamMaps sm = new StreamMaps(gpu, Paradigm.MHC, n, c, true, 20, false, tokens, DType.BF16)) {
                    int pt = !o.contains("-DSM_PT=") ? 128 : Integer.parseInt(o.replaceAll(".*-DSM_PT=(\\d+).*", "$1"));
                    assertEquals(pt, sm.projectTokens(), "the module's tokens a projection block under [" + o + "]");
                    runs.add(runBlock(sm, a, spec, params, x, f, dOut, dh, tokens));
                } finally {
                    System.clearProperty("hyperlab.streammaps.options");
                }
            }
            runs.get(0).forEach((k, want) -> {
                if (k.equals("dbias")) assertTrue(relErrorOrAbs(runs.get(1).get(k), toDouble(want)) < 1e-6, k);
                else assertArrayEquals(want, runs.get(1).get(k), k + " with " + options);
            });
        }
    }

    /**
     * Several blocks' parameter gradients added in one launch (backwardAggregateKeeping, then addGradients) are bit for
     * bit those of each block's own backwardAggregate; a second backward before addGradients, addGradients with nothing
     * waiting, and blocks of two configurations in one call are refused, saying what to do.
     */
    @org.junit.jupiter.api.Test
    void gradientsOfSeveralBlocksAddedInOneLaunch() {
        assumeTrue(gpu != null, TestDevices::why);
        int n = 4, c = 24, tokens = 40;
        Random rnd = new Random(23);
        var spec = MapSpec.of(Paradigm.MHC, n, c, true, MapInit.PAPER, 0);
        try (DeviceArena a = gpu.arena(); StreamMaps one = new StreamMaps(gpu, Paradigm.MHC, n, c, true, 20, false, tokens);
             StreamMaps two = new StreamMaps(gpu, Paradigm.MHC, n, c, true, 20, false, tokens);
             StreamMaps other = new StreamMaps(gpu, Paradigm.HC, 2, c, true, 20, false, tokens)) {
            List<StreamMaps> blocks = List.of(one, two);
            List<Map<String, DeviceTensor>> params = List.of(perturbedParams(a, spec, rnd), perturbedParams(a, spec, rnd));
            DeviceTensor x = a.of(DType.F32, random(rnd, tokens * n * c), tokens, n, c), dOut = a.of(DType.F32, random(rnd, tokens * n * c), tokens, n, c);
            DeviceTensor f = a.of(DType.F32, random(rnd, tokens * c), tokens, c), dh = a.of(DType.F32, random(rnd, tokens * c), tokens, c);
            DeviceTensor h = a.alloc(DType.F32, tokens, c), out = a.alloc(DType.F32, tokens, n, c), df = a.alloc(DType.F32, tokens, c),
                    dx = a.alloc(DType.F32, tokens, n, c);
            List<List<float[]>> runs = new ArrayList<>();
            List<Map<String, DeviceTensor>> grads = new ArrayList<>();
            for (boolean together : new boolean[] {false, true}) {
                grads.clear();
                for (int b = 0; b < blocks.size(); b++) {
                    Map<String, DeviceTensor> g = new LinkedHashMap<>();
                    for (MapSpec.Param ps : spec) g.put(ps.name(), a.zeros(DType.F32, ps.shape()));
                    grads.add(g);
                    StreamMaps sm = blocks.get(b);
                    sm.aggregate(x, params.get(b), h, tokens);
                    sm.merge(x, f, out, tokens);
                    sm.backwardMerge(dOut, x, f, df, tokens);
                    if (together) sm.backwardAggregateKeeping(dOut, dh, x, dx, tokens);
                    else sm.backwardAggregate(dOut, dh, x, g, dx, tokens);
                }
                if (together) StreamMaps.addGradients(blocks, grads);
                runs.add(grads.stream().flatMap(g -> g.values().stream()).map(DeviceTensor::toFloatArray).toList());
            }
            for (int i = 0; i < runs.get(0).size(); i++) assertArrayEquals(runs.get(0).get(i), runs.get(1).get(i), "gradient " + i);
            one.aggregate(x, params.get(0), h, tokens);
            one.backwardMerge(dOut, x, f, df, tokens);
            one.backwardAggregateKeeping(dOut, dh, x, dx, tokens);
            var twice = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> one.backwardAggregateKeeping(dOut, dh, x, dx, tokens));
            assertTrue(twice.getMessage().contains("call addGradients first"), twice.getMessage());
            var none = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class, () -> StreamMaps.addGradients(blocks, grads));
            assertTrue(none.getMessage().contains("block 1 has no backward waiting"), none.getMessage());
            var mixed = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> StreamMaps.addGradients(List.of(one, other), grads));
            assertTrue(mixed.getMessage().contains("in its own call"), mixed.getMessage());
            StreamMaps.addGradients(List.of(one), List.of(grads.get(0)));   // what was refused stays waiting, and adds
        }
    }

    /**
     * Several blocks' parameters packed in one launch (pack) give each block's next aggregate bit for bit the maps of its
     * own packing, with no pack of its own; an aggregate with another params map than was packed for packs that one.
     */
    @org.junit.jupiter.api.Test
    void parametersOfSeveralBlocksPackedInOneLaunch() {
        assumeTrue(gpu != null, TestDevices::why);
        int n = 3, c = 16, tokens = 30;
        Random rnd = new Random(29);
        var spec = MapSpec.of(Paradigm.SHC, n, c, true, MapInit.PAPER, 0);
        try (DeviceArena a = gpu.arena(); StreamMaps one = new StreamMaps(gpu, Paradigm.SHC, n, c, true, 20, false, tokens);
             StreamMaps two = new StreamMaps(gpu, Paradigm.SHC, n, c, true, 20, false, tokens)) {
            List<StreamMaps> blocks = List.of(one, two);
            List<Map<String, DeviceTensor>> params = List.of(perturbedParams(a, spec, rnd), perturbedParams(a, spec, rnd));
            DeviceTensor x = a.of(DType.F32, random(rnd, tokens * n * c), tokens, n, c), h = a.alloc(DType.F32, tokens, c);
            List<float[]> own = new ArrayList<>(), packed = new ArrayList<>();
            for (int b = 0; b < 2; b++) {
                blocks.get(b).aggregate(x, params.get(b), h, tokens);
                own.add(blocks.get(b).lastMaps().res());
            }
            StreamMaps.pack(blocks, List.of(params.get(1), params.get(0)));    // swapped, then packed again: the last pack counts
            StreamMaps.pack(blocks, params);
            Map<String, Float> steps = new TreeMap<>();
            for (int b = 0; b < 2; b++) {
                blocks.get(b).profile(steps);
                blocks.get(b).aggregate(x, params.get(b), h, tokens);
                packed.add(blocks.get(b).lastMaps().res());
            }
            assertTrue(!steps.containsKey("fwd.pack"), "the aggregates packed again: " + steps.keySet());
            for (int b = 0; b < 2; b++) assertArrayEquals(own.get(b), packed.get(b), "block " + b);
            StreamMaps.pack(blocks, params);
            one.aggregate(x, new LinkedHashMap<>(params.get(1)), h, tokens);   // not the map that was packed for it
            assertTrue(steps.containsKey("fwd.pack"), "an aggregate with other params packs them: " + steps.keySet());
            assertArrayEquals(own.get(1), one.lastMaps().res(), "block 0 with block 1's parameters");
        }
    }

    /**
     * got (bf16 values) is want rounded to bf16, give or take {@code steps} bf16 steps plus 1e-4 of want's rms (terms that
     * cancel may round to a neighbour: half a step from fp32 want, one from bf16 want); returns how many are not want's rounding.
     */
    static int assertNearRounding(String what, float[] want, float[] got, double steps) {
        double rms = Math.sqrt(java.util.stream.IntStream.range(0, want.length).mapToDouble(i -> (double) want[i] * want[i]).sum() / want.length);
        int moved = 0;
        for (int i = 0; i < want.length; i++) {
            float rounded = DType.bf16ToFloat(DType.floatToBf16(want[i]));
            double bar = Math.ulp(rounded) * 65536 * steps + 1e-4 * rms;   // (a float ulp x 2^16 is a bf16 step)
            assertTrue(Math.abs(got[i] - want[i]) <= bar, what + " at " + i + ": " + got[i] + " against " + want[i] + ", more than " + bar + " off");
            if (rounded != got[i]) moved++;
        }
        return moved;
    }

    /**
     * At C = 4,096 the merge's backward needs 64 KB of bias slices (four warps, bf16 streams: 8 columns a lane), past the
     * 48 KB a kernel gets without opting in: it still runs, and adds df's column sums into dbias (float64 sums of the
     * fp32 df it wrote, within 1e-5).
     */
    @org.junit.jupiter.api.Test
    void theMergeBackwardSumsTheBiasPast48KBOfSlices() {
        assumeTrue(gpu != null, TestDevices::why);
        int n = 4, c = 4096, tokens = 9;
        Random rnd = new Random(3);
        var spec = MapSpec.of(Paradigm.MHC, n, c, true, MapInit.PAPER, 0);
        try (DeviceArena a = gpu.arena(); StreamMaps sm = new StreamMaps(gpu, Paradigm.MHC, n, c, true, 20, false, tokens, DType.BF16)) {
            DeviceTensor x = a.alloc(DType.BF16, tokens, n, c).copyFrom(random(rnd, tokens * n * c));
            DeviceTensor dOut = a.alloc(DType.BF16, tokens, n, c).copyFrom(random(rnd, tokens * n * c));
            DeviceTensor f = a.alloc(DType.BF16, tokens, c).copyFrom(random(rnd, tokens * c));
            DeviceTensor df = a.alloc(DType.F32, tokens, c), dbias = a.zeros(DType.F32, c);
            sm.aggregate(x, perturbedParams(a, spec, rnd), a.alloc(DType.BF16, tokens, c), tokens);
            sm.backwardMerge(dOut, x, f, df, dbias, tokens);
            float[] dfv = df.toFloatArray();
            double[] want = new double[c];
            for (int i = 0; i < dfv.length; i++) want[i % c] += dfv[i];
            double e = TestMetrics.relError(dbias.toFloatArray(), want);
            assertTrue(e <= 1e-5, "df's column sums at C = " + c + ": relative error " + e);
        }
    }

    /** bf16 streams are refused, with what to change, where the fused kernels cannot read them (Φ_cat over 64 columns). */
    @org.junit.jupiter.api.Test
    void bf16StreamsOutsideTheFusedKernelsAreRefused() {
        assumeTrue(gpu != null, TestDevices::why);
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new StreamMaps(gpu, Paradigm.MHC, 8, 16, true, 20, false, 8, DType.BF16));
        assertTrue(e.getMessage().contains("use fp32 streams"), e.getMessage());
        try (DeviceArena a = gpu.arena(); StreamMaps sm = new StreamMaps(gpu, Paradigm.MHC, 4, 16, true, 20, false, 8, DType.BF16)) {
            DeviceTensor x = a.alloc(DType.F32, 8, 4, 16), h = a.alloc(DType.F32, 8, 16);
            var wrong = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> sm.aggregate(x, Map.of(), h, 8));
            assertTrue(wrong.getMessage().contains("BF16"), wrong.getMessage());
        }
    }

    /** The map parameters at their initial values plus N(0, 0.3²) noise (away from the symmetric start). */
    static Map<String, DeviceTensor> perturbedParams(DeviceArena a, List<MapSpec.Param> spec, Random rnd) {
        Map<String, DeviceTensor> params = new LinkedHashMap<>();
        for (MapSpec.Param ps : spec) {
            float[] v = new float[(int) ps.size()];
            for (int i = 0; i < v.length; i++) v[i] = (float) (ps.init()[i] + 0.3 * rnd.nextGaussian());
            params.put(ps.name(), a.alloc(DType.F32, ps.shape()).copyFrom(v));
        }
        return params;
    }

    /**
     * One forward and backward of the block (h, out in x's dtype, dx in dOut's dtype, df fp32, gradients from zero): the
     * maps, h, out, df, dx, df's column sums as the merge's backward adds them into a bias gradient ("dbias", from zero;
     * summed by atomics, so its last bits may move between runs) and every parameter gradient on the host.
     */
    static Map<String, float[]> runBlock(StreamMaps sm, DeviceArena a, List<MapSpec.Param> spec, Map<String, DeviceTensor> params,
                                         DeviceTensor x, DeviceTensor f, DeviceTensor dOut, DeviceTensor dh, int tokens) {
        int n = sm.streams(), c = sm.width();
        DeviceTensor h = a.alloc(x.dtype(), tokens, c), out = a.alloc(x.dtype(), tokens, n, c);
        DeviceTensor dx = a.alloc(dOut.dtype(), tokens, n, c), df = a.alloc(DType.F32, tokens, c);
        Map<String, DeviceTensor> grads = new LinkedHashMap<>();
        for (MapSpec.Param ps : spec) grads.put(ps.name(), a.zeros(DType.F32, ps.shape()));
        sm.aggregate(x, params, h, tokens);
        sm.merge(x, f, out, tokens);
        DeviceTensor dbias = a.zeros(DType.F32, c);
        sm.backwardMerge(dOut, x, f, df, dbias, tokens);
        sm.backwardAggregate(dOut, dh, x, grads, dx, tokens);
        Map<String, float[]> got = new LinkedHashMap<>();
        StreamMaps.Maps maps = sm.lastMaps();
        got.put("pre", maps.pre());
        got.put("post", maps.post());
        got.put("res", maps.res());
        got.put("h", h.toFloatArray());
        got.put("out", out.toFloatArray());
        got.put("df", df.toFloatArray());
        got.put("dx", dx.toFloatArray());
        got.put("dbias", dbias.toFloatArray());
        grads.forEach((k, g) -> got.put(k, g.toFloatArray()));
        return got;
    }

    /** The float64 block for one token: its loss share Σ w1·h + Σ w2·out. */
    static final class Block {
        final Case k;
        final int n, c;
        final Map<String, double[]> w;

        Block(Case k, int c, Map<String, double[]> w) {
            this.k = k;
            this.n = k.n();
            this.c = c;
            this.w = w;
        }

        ReferenceMaps.Maps maps(double[][] x) {
            return ReferenceMaps.compute(k.p(), n, k.dynamic(), k.iterations(), w, x);
        }

        double loss(double[][] x, double[] f, double[] w1, double[] w2) {
            ReferenceMaps.Maps m = maps(x);
            double[] h = ReferenceMaps.aggregate(m.pre(), x);
            double[][] out = ReferenceMaps.merge(m, x, f);
            double l = 0;
            for (int j = 0; j < c; j++) l += w1[j] * h[j];
            for (int i = 0; i < n; i++) for (int j = 0; j < c; j++) l += w2[i * c + j] * out[i][j];
            return l;
        }
    }

    static void check(Case k, int seed) {
        Random rnd = new Random(seed);
        int n = k.n();
        int tokens = 5 + rnd.nextInt(60), c = 8 + rnd.nextInt(57);
        if (k.p() == Paradigm.MHC_LITE && n >= 5) { tokens = 9; c = 12; }
        int d = n * c;
        // random, non-initial parameters with MapSpec's names and shapes
        List<MapSpec.Param> spec = MapSpec.of(k.p(), n, c, k.dynamic(), MapInit.PAPER, 1);
        Map<String, double[]> w = new LinkedHashMap<>();
        Map<String, float[]> wf = new LinkedHashMap<>();
        for (MapSpec.Param p : spec) {
            float[] v = new float[(int) p.size()];
            String nm = p.name();
            for (int i = 0; i < v.length; i++) {
                double g = rnd.nextGaussian();
                v[i] = (float) (p.shape().length == 2 ? g / Math.sqrt(d)                 // z = x'φ ~ N(0, 1)
                        : nm.startsWith("alpha") || nm.startsWith("tau") || nm.startsWith("gamma") ? 0.5 + rnd.nextDouble()
                        : g);
            }
            wf.put(nm, v);
            w.put(nm, toDouble(v));
        }
        float[] x = random(rnd, tokens * d), f = random(rnd, tokens * c), w1 = random(rnd, tokens * c), w2 = random(rnd, tokens * d);
        Block b = new Block(k, c, w);

        // float64 forward
        double[] wantPre = new double[tokens * n], wantPost = new double[tokens * n], wantRes = new double[tokens * n * n];
        double[] wantH = new double[tokens * c], wantOut = new double[tokens * d];
        for (int t = 0; t < tokens; t++) {
            double[][] xt = tokenX(x, t, n, c);
            double[] ft = slice(f, t * c, c);
            ReferenceMaps.Maps m = b.maps(xt);
            double[] h = ReferenceMaps.aggregate(m.pre(), xt);
            double[][] out = ReferenceMaps.merge(m, xt, ft);
            for (int i = 0; i < n; i++) {
                wantPre[t * n + i] = m.pre()[i];
                wantPost[t * n + i] = m.post()[i];
                for (int j = 0; j < n; j++) wantRes[(t * n + i) * n + j] = m.res()[i][j];
                for (int j = 0; j < c; j++) wantOut[t * d + i * c + j] = out[i][j];
            }
            System.arraycopy(h, 0, wantH, t * c, c);
        }

        // float64 finite differences: dx and df per token (tokens are independent), parameters over all tokens
        double eps = 1e-5;
        double[] wantDx = new double[tokens * d], wantDf = new double[tokens * c];
        for (int t = 0; t < tokens; t++) {
            double[][] xt = tokenX(x, t, n, c);
            double[] ft = slice(f, t * c, c), w1t = slice(w1, t * c, c), w2t = slice(w2, t * d, d);
            for (int i = 0; i < n; i++)
                for (int j = 0; j < c; j++) {
                    double keep = xt[i][j];
                    xt[i][j] = keep + eps;
                    double up = b.loss(xt, ft, w1t, w2t);
                    xt[i][j] = keep - eps;
                    double down = b.loss(xt, ft, w1t, w2t);
                    xt[i][j] = keep;
                    wantDx[t * d + i * c + j] = (up - down) / (2 * eps);
                }
            for (int j = 0; j < c; j++) {
                double keep = ft[j];
                ft[j] = keep + eps;
                double up = b.loss(xt, ft, w1t, w2t);
                ft[j] = keep - eps;
                double down = b.loss(xt, ft, w1t, w2t);
                ft[j] = keep;
                wantDf[t * c + j] = (up - down) / (2 * eps);
            }
        }
        Map<String, int[]> sampled = new LinkedHashMap<>();
        Map<String, double[]> wantGrad = new LinkedHashMap<>();
        Map<String, Double> scales = new LinkedHashMap<>();
        for (MapSpec.Param p : spec) {
            double[] v = w.get(p.name());
            int[] idx = sample(rnd, v.length, p.shape().length == 2 || v.length > 64 ? 48 : v.length);
            double[] g = new double[idx.length];
            if (v.length == 1) {            // a scalar: a sum over all tokens and streams, which may cancel (see SCALE)
                double sum = 0, scale = 0, keep = v[0];
                for (int t = 0; t < tokens; t++) {
                    double[][] xt = tokenX(x, t, n, c);
                    double[] ft = slice(f, t * c, c), w1t = slice(w1, t * c, c), w2t = slice(w2, t * d, d);
                    v[0] = keep + eps;
                    double up = b.loss(xt, ft, w1t, w2t);
                    v[0] = keep - eps;
                    double down = b.loss(xt, ft, w1t, w2t);
                    v[0] = keep;
                    double gt = (up - down) / (2 * eps);
                    sum += gt;
                    scale += Math.abs(gt);
                }
                g[0] = sum;
                scales.put(p.name(), scale);
                sampled.put(p.name(), idx);
                wantGrad.put(p.name(), g);
                continue;
            }
            for (int q = 0; q < idx.length; q++) {
                double keep = v[idx[q]];
                v[idx[q]] = keep + eps;
                double up = totalLoss(b, x, f, w1, w2, tokens);
                v[idx[q]] = keep - eps;
                double down = totalLoss(b, x, f, w1, w2, tokens);
                v[idx[q]] = keep;
                g[q] = (up - down) / (2 * eps);
            }
            sampled.put(p.name(), idx);
            wantGrad.put(p.name(), g);
        }

        try (DeviceArena a = gpu.arena();
             StreamMaps sm = new StreamMaps(gpu, k.p(), n, c, k.dynamic(), k.iterations(), k.log(), tokens + 3)) {
            sm.useFusedProjection(k.fused());
            Map<String, DeviceTensor> params = new LinkedHashMap<>(), grads = new LinkedHashMap<>();
            Map<String, float[]> grad0 = new LinkedHashMap<>();
            for (MapSpec.Param p : spec) {
                params.put(p.name(), a.alloc(DType.F32, p.shape()).copyFrom(wf.get(p.name())));
                grad0.put(p.name(), random(rnd, (int) p.size()));   // for the second run: gradients are ADDED
                grads.put(p.name(), a.zeros(DType.F32, p.shape()));
            }
            DeviceTensor dxT = a.of(DType.F32, x, tokens, n, c), fT = a.of(DType.F32, f, tokens, c);
            DeviceTensor h = a.alloc(DType.F32, tokens, c), out = a.alloc(DType.F32, tokens, n, c);
            DeviceTensor dOut = a.of(DType.F32, w2, tokens, n, c), dh = a.of(DType.F32, w1, tokens, c);
            DeviceTensor dx = a.alloc(DType.F32, tokens, n, c), df = a.alloc(DType.F32, tokens, c);
            sm.aggregate(dxT, params, h, tokens);
            sm.merge(dxT, fT, out, tokens);
            sm.backwardMerge(dOut, dxT, fT, df, tokens);
            sm.backwardAggregate(dOut, dh, dxT, grads, dx, tokens);
            StreamMaps.Maps got = sm.lastMaps();

            Map<String, Double> fwd = new LinkedHashMap<>(), bwd = new LinkedHashMap<>();
            double plainScalar = 0;
            fwd.put("pre", TestMetrics.relError(got.pre(), wantPre));
            fwd.put("post", TestMetrics.relError(got.post(), wantPost));
            fwd.put("res", TestMetrics.relError(got.res(), wantRes));
            fwd.put("h", TestMetrics.relError(h.toFloatArray(), wantH));
            fwd.put("out", TestMetrics.relError(out.toFloatArray(), wantOut));
            bwd.put("dx", TestMetrics.relError(dx.toFloatArray(), wantDx));
            bwd.put("df", TestMetrics.relError(df.toFloatArray(), wantDf));
            for (MapSpec.Param p : spec) {
                float[] all = grads.get(p.name()).toFloatArray();
                int[] idx = sampled.get(p.name());
                float[] gotS = new float[idx.length];
                for (int q = 0; q < idx.length; q++) gotS[q] = all[idx[q]];
                double e = relErrorOrAbs(gotS, wantGrad.get(p.name()));
                if (scales.containsKey(p.name())) {
                    double err = Math.abs(gotS[0] - wantGrad.get(p.name())[0]), scale = scales.get(p.name());
                    plainScalar = Math.max(plainScalar, e);
                    assertTrue(e <= SCALAR_PLAIN_BAR, p.name() + ": relative error " + e + " above " + SCALAR_PLAIN_BAR);
                    e = scale > 1e-12 ? err / scale : err;
                }
                bwd.put(p.name(), e);
            }
            double wf1 = fwd.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
            double wb1 = bwd.values().stream().mapToDouble(Double::doubleValue).max().orElse(0);
            String detail = String.format(Locale.ROOT, "%s N=%d C=%d forward %s backward %s (scalars: %.2e relative to their value)",
                    k.label(), tokens, c, fmt(fwd), fmt(bwd), plainScalar);
            System.out.println("streammaps " + detail);
            synchronized (WORST) {
                double[] cur = WORST.computeIfAbsent(k.family(), z -> new double[3]);
                cur[0] = Math.max(cur[0], wf1);
                cur[1] = Math.max(cur[1], wb1);
                cur[2] = Math.max(cur[2], plainScalar);
            }
            assertTrue(wf1 <= FWD_BAR, "forward above " + FWD_BAR + ": " + detail);
            assertTrue(wb1 <= BWD_BAR, "backward above " + BWD_BAR + ": " + detail);

            // the same inputs give bit-identical results (no atomics), and parameter gradients are added to what grads
            // held: a second run into grads holding g0 must give exactly fl(g0 + first run's gradient)
            // (this run takes df in bf16, as the bf16 engine does: the rounding of the first run's fp32 df)
            float[] dx1 = dx.toFloatArray(), df1 = df.toFloatArray();
            Map<String, DeviceTensor> grads2 = new LinkedHashMap<>();
            for (MapSpec.Param p : spec) grads2.put(p.name(), a.alloc(DType.F32, p.shape()).copyFrom(grad0.get(p.name())));
            // and with the bias gradient of F's output projection: the column sums of the fp32 df checked above (summed
            // in float64 here), added to what it held
            DeviceTensor dfLo = a.alloc(DType.BF16, tokens, c);
            float[] bias0 = random(rnd, c);
            DeviceTensor dbias = a.of(DType.F32, bias0);
            sm.aggregate(dxT, params, h, tokens);
            sm.backwardMerge(dOut, dxT, fT, dfLo, dbias, tokens);
            sm.backwardAggregate(dOut, dh, dxT, grads2, dx, tokens);
            double[] wantBias = new double[c];
            for (int i = 0; i < c; i++) wantBias[i] = bias0[i];
            for (int i = 0; i < df1.length; i++) wantBias[i % c] += df1[i];
            double eBias = TestMetrics.relError(dbias.toFloatArray(), wantBias);
            assertTrue(eBias <= 1e-5, "df's column sums: relative error " + eBias + ": " + detail);
            assertArrayEquals(dx1, dx.toFloatArray(), "dx differs between two identical runs");
            float[] gotLo = dfLo.toFloatArray();
            for (int i = 0; i < df1.length; i++)
                assertEquals(DType.bf16ToFloat(DType.floatToBf16(df1[i])), gotLo[i], "df in bf16 at " + i);
            for (MapSpec.Param p : spec) {
                float[] first = grads.get(p.name()).toFloatArray(), g0 = grad0.get(p.name()), want = new float[g0.length];
                for (int i = 0; i < want.length; i++) want[i] = g0[i] + first[i];
                assertArrayEquals(want, grads2.get(p.name()).toFloatArray(), p.name() + ": not added, or not deterministic");
            }
        }
    }

    /** Relative error, or the absolute one where the reference is (numerically) zero, e.g. unused exact zeros. */
    static double relErrorOrAbs(float[] got, double[] want) {
        double den = 0;
        for (double v : want) den += v * v;
        if (Math.sqrt(den) < 1e-9) {
            double num = 0;
            for (float v : got) num += (double) v * v;
            return Math.sqrt(num);
        }
        return TestMetrics.relError(got, want);
    }

    static double totalLoss(Block b, float[] x, float[] f, float[] w1, float[] w2, int tokens) {
        int n = b.n, c = b.c, d = n * c;
        double l = 0;
        for (int t = 0; t < tokens; t++)
            l += b.loss(tokenX(x, t, n, c), slice(f, t * c, c), slice(w1, t * c, c), slice(w2, t * d, d));
        return l;
    }

    static int[] sample(Random r, int size, int most) {
        if (size <= most) {
            int[] all = new int[size];
            for (int i = 0; i < size; i++) all[i] = i;
            return all;
        }
        return r.ints(0, size).distinct().limit(most).sorted().toArray();
    }

    static double[][] tokenX(float[] x, int t, int n, int c) {
        double[][] xt = new double[n][c];
        for (int i = 0; i < n; i++) for (int j = 0; j < c; j++) xt[i][j] = x[(t * n + i) * c + j];
        return xt;
    }

    static double[] slice(float[] a, int from, int len) {
        double[] s = new double[len];
        for (int i = 0; i < len; i++) s[i] = a[from + i];
        return s;
    }

    static double[] toDouble(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) d[i] = v[i];
        return d;
    }

    static float[] random(Random r, int size) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) v[i] = (float) r.nextGaussian();
        return v;
    }

    static String fmt(Map<String, Double> m) {
        StringBuilder sb = new StringBuilder("{");
        m.forEach((k, v) -> sb.append(sb.length() > 1 ? ", " : "").append(k).append('=').append(String.format(Locale.ROOT, "%.2e", v)));
        return sb.append('}').toString();
    }
}
