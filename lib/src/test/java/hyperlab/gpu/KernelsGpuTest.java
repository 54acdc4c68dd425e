package hyperlab.gpu;

import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.cuda.Gpu;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Each engine kernel against float64 maths (finite differences for the backward ones), on a GPU or else the CPU emulator. */
class KernelsGpuTest {
    private static Gpu gpu;
    private static Kernels k;

    @BeforeAll
    static void setUp() {
        gpu = TestDevices.gpuOrEmulator().orElse(null);
        if (gpu != null) k = new Kernels(gpu);
    }

    @BeforeEach
    void needsDevice() {
        assumeTrue(gpu != null, TestDevices::why);
    }

    static float[] random(Random r, int n, double scale) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) (r.nextGaussian() * scale);
        return x;
    }

    static double relError(float[] got, double[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    /** Central differences of a float64 scalar function at x. */
    static double[] numericGradient(Function<double[], Double> f, double[] x) {
        double[] g = new double[x.length];
        double h = 1e-6;
        for (int i = 0; i < x.length; i++) {
            double keep = x[i];
            x[i] = keep + h;
            double up = f.apply(x);
            x[i] = keep - h;
            double down = f.apply(x);
            x[i] = keep;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }

    /**
     * c = 72: four columns per lane (float4), the backward's rows in registers (one 128-column chunk, partly used);
     * c = 520, 768 (preset M's width) and 1024: 5, 6 and 8 chunks, the last of 520's partly used; c = 70: one column per
     * lane, the backward without registers; accumulate: the backward adds into what dx holds (RC), a kernel of its own
     * that loads dx with the row (1024: its most registers, 8 chunks of x, dout and dx a lane). The backward also writes
     * dx rounded to bf16, which must be the rounding of the fp32 dx it wrote, and adds dx's column sums into a vector.
     */
    @ParameterizedTest(name = "width {0}, accumulate {1}, {2} rows")
    @CsvSource({"72, false, 37", "70, false, 37", "72, true, 37", "70, true, 37", "520, true, 6", "768, false, 5", "768, true, 5", "1024, true, 3", "1100, true, 3"})
    void layerNormForwardAndBackwardMatchFloat64(int c, boolean accumulate, int rows) {
        Random r = new Random(1);
        float[] x = random(r, rows * c, 2), gamma = random(r, c, 1), beta = random(r, c, 1), w = random(r, rows * c, 1);
        float[] before = accumulate ? random(r, rows * c, 1) : new float[rows * c];
        // float64 reference: L = Σ w ⊙ LN(x)
        Function<double[], double[]> ln = all -> {   // all = x, gamma, beta concatenated
            double[] out = new double[rows * c];
            for (int i = 0; i < rows; i++) {
                double m = 0, v = 0;
                for (int j = 0; j < c; j++) m += all[i * c + j];
                m /= c;
                for (int j = 0; j < c; j++) v += (all[i * c + j] - m) * (all[i * c + j] - m);
                double rs = 1 / Math.sqrt(v / c + Kernels.LN_EPS);
                for (int j = 0; j < c; j++)
                    out[i * c + j] = (all[i * c + j] - m) * rs * all[rows * c + j] + all[rows * c + c + j];
            }
            return out;
        };
        double[] all = new double[rows * c + 2 * c];
        System.arraycopy(toDouble(x), 0, all, 0, rows * c);
        System.arraycopy(toDouble(gamma), 0, all, rows * c, c);
        System.arraycopy(toDouble(beta), 0, all, rows * c + c, c);
        double[] want = ln.apply(all);
        double[] grad = numericGradient(a -> {
            double[] o = ln.apply(a);
            double s = 0;
            for (int i = 0; i < o.length; i++) s += w[i] * o[i];
            return s;
        }, all);
        try (DeviceArena a = gpu.arena()) {
            DeviceTensor dx = a.of(DType.F32, x), dg = a.of(DType.F32, gamma), db = a.of(DType.F32, beta);
            DeviceTensor out = a.alloc(DType.F32, rows, c), mean = a.alloc(DType.F32, rows), rstd = a.alloc(DType.F32, rows);
            k.layerNorm(out, mean, rstd, dx, dg, db, rows, c);
            double fwd = relError(out.toFloatArray(), want);
            DeviceTensor gx = a.of(DType.F32, before), gg = a.zeros(DType.F32, c), gb = a.zeros(DType.F32, c);
            DeviceTensor lo = a.alloc(DType.BF16, rows, c);   // dx in bf16 too, as RC's backward asks for it
            float[] sumBefore = random(r, c, 1);                // dx's column sums, added (RC's c_proj bias gradient)
            DeviceTensor sums = a.of(DType.F32, sumBefore);
            k.layerNormBackward(gx, lo, gg, gb, sums, a.of(DType.F32, w), dx, dg, mean, rstd, rows, c, accumulate);
            float[] gotDx = gx.toFloatArray(), gotLo = lo.toFloatArray();
            for (int i = 0; i < gotDx.length; i++)
                assertEquals(DType.bf16ToFloat(DType.floatToBf16(gotDx[i])), gotLo[i], "dx in bf16 at " + i);
            double[] wantDx = java.util.Arrays.copyOfRange(grad, 0, rows * c);
            for (int i = 0; i < wantDx.length; i++) wantDx[i] += before[i];
            double ex = relError(gx.toFloatArray(), wantDx);
            double eg = relError(gg.toFloatArray(), java.util.Arrays.copyOfRange(grad, rows * c, rows * c + c));
            double eb = relError(gb.toFloatArray(), java.util.Arrays.copyOfRange(grad, rows * c + c, rows * c + 2 * c));
            double[] wantSums = toDouble(sumBefore);
            for (int i = 0; i < wantDx.length; i++) wantSums[i % c] += wantDx[i];
            double es = relError(sums.toFloatArray(), wantSums);
            assertTrue(es < 1e-4, "dx's column sums: relative error " + es);
            assertTrue(fwd < 1e-5, "forward relative error " + fwd);
            assertTrue(ex < 1e-4 && eg < 1e-4 && eb < 1e-4, "backward relative errors dx " + ex + " dgamma " + eg + " dbeta " + eb);
        }
    }

    /**
     * The bf16 engine's LayerNorm reads bf16 where its inputs are bf16 (dout, a GEMM's output; x, where the streams are
     * bf16): on bf16-representable values every variant computes what the fp32-input kernels above compute, the same sums
     * in the same order, so the forward, mean, rstd and dx agree bit for bit (dgamma and dbeta up to the order of the
     * blocks' atomic adds), and a bf16 dx written alone is the fp32 dx rounded. Widths as above: rows in registers (72, 768), one column per lane (70), the plain backward (1100).
     */
    @ParameterizedTest(name = "width {0}, {1} rows")
    @CsvSource({"72, 37", "70, 37", "768, 5", "1100, 3"})
    void layerNormOfBf16InputsMatchesTheFp32Kernels(int c, int rows) {
        Random r = new Random(2);
        float[] x = random(r, rows * c, 2), gamma = random(r, c, 1), beta = random(r, c, 1), w = random(r, rows * c, 1);
        for (float[] v : List.of(x, w)) for (int i = 0; i < v.length; i++) v[i] = DType.bf16ToFloat(DType.floatToBf16(v[i]));
        try (DeviceArena a = gpu.arena()) {
            DeviceTensor dg = a.of(DType.F32, gamma), db = a.of(DType.F32, beta);
            Map<String, float[]> ref = null;
            for (DType[] types : new DType[][] {{DType.F32, DType.F32}, {DType.F32, DType.BF16}, {DType.BF16, DType.BF16}}) {
                DType xt = types[0], dt = types[1];   // x's dtype, dout's dtype
                DeviceTensor xs = a.alloc(xt, rows, c).copyFrom(x), dout = a.alloc(dt, rows, c).copyFrom(w);
                DeviceTensor out = a.alloc(DType.BF16, rows, c), mean = a.alloc(DType.F32, rows), rstd = a.alloc(DType.F32, rows);
                k.layerNorm(out, mean, rstd, xs, dg, db, rows, c);
                DeviceTensor gx = a.zeros(DType.F32, rows, c), gg = a.zeros(DType.F32, c), gb = a.zeros(DType.F32, c);
                k.layerNormBackward(gx, gg, gb, dout, xs, dg, mean, rstd, rows, c, false);
                Map<String, float[]> got = Map.of("out", out.toFloatArray(), "mean", mean.toFloatArray(), "rstd", rstd.toFloatArray(),
                        "dx", gx.toFloatArray(), "dgamma", gg.toFloatArray(), "dbeta", gb.toFloatArray());
                if (ref == null) { ref = got; continue; }
                for (String key : List.of("out", "mean", "rstd", "dx"))
                    assertArrayEquals(ref.get(key), got.get(key), key + " with x " + xt + ", dout " + dt);
                for (String key : List.of("dgamma", "dbeta"))
                    assertTrue(relError(got.get(key), toDouble(ref.get(key))) < 1e-6, key + " with x " + xt + ", dout " + dt);
                if (xt == DType.BF16) {                      // dx in bf16 alone (bf16 streams' dh): the rounding of the fp32 dx
                    DeviceTensor lo = a.alloc(DType.BF16, rows, c);
                    k.layerNormBackward(lo, a.zeros(DType.F32, c), a.zeros(DType.F32, c), dout, xs, dg, mean, rstd, rows, c, false);
                    float[] wide = ref.get("dx"), narrow = lo.toFloatArray();
                    for (int i = 0; i < wide.length; i++)
                        assertEquals(DType.bf16ToFloat(DType.floatToBf16(wide[i])), narrow[i], "bf16 dx at " + i);
                }
            }
            DeviceTensor xs = a.alloc(DType.BF16, rows, c), out = a.alloc(DType.F32, rows, c);
            var e = assertThrows(IllegalArgumentException.class, () -> k.layerNorm(out, a.alloc(DType.F32, rows), a.alloc(DType.F32, rows), xs, dg, db, rows, c));
            assertTrue(e.getMessage().contains("writes bf16"), e.getMessage());
        }
    }

    /**
     * F32 and BF16, with whole 16-byte vectors (cols 72 / 64), a scalar tail and columns that are no multiple of the
     * vector (70), and tensors that start off a 16-byte boundary (offset 1: the one-element path).
     */
    @ParameterizedTest(name = "{0} {1}x{2} offset {3}")
    @CsvSource({"F32, 300, 70, 0", "F32, 301, 72, 0", "F32, 300, 72, 1", "BF16, 300, 70, 0", "BF16, 301, 64, 0", "BF16, 300, 64, 1"})
    void geluAndBiasGradientMatchFloat64(DType dtype, int rows, int cols, int offset) {
        Random r = new Random(2);
        int count = rows * cols;
        float[] x = random(r, count, 2), dout = random(r, count, 1);
        if (dtype == DType.BF16) {                // the reference starts from the values the kernels see
            x = roundBf16(x);
            dout = roundBf16(dout);
        }
        double[] want = new double[count], wantDx = new double[count], wantBias = new double[cols], wantGeluBias = new double[cols];
        for (int i = 0; i < count; i++) {
            double v = x[i], h = 1e-6;
            want[i] = geluRef(v);
            wantDx[i] = dout[i] * (geluRef(v + h) - geluRef(v - h)) / (2 * h);
            wantBias[i % cols] += dout[i];
            wantGeluBias[i % cols] += wantDx[i];
        }
        double tol = dtype == DType.BF16 ? 4e-3 : 1e-5;   // bf16 outputs: one rounding, relative 2^-9
        try (DeviceArena a = gpu.arena()) {
            DeviceTensor dx = shifted(a, dtype, x, offset), out = a.alloc(dtype, count + offset).view(offset, count);
            DeviceTensor g = shifted(a, dtype, dout, offset);
            int w = 16 / dtype.bytes();
            assertEquals(offset == 0 ? w : 1, Kernels.vector(w, out, dx, g), "the path under test");
            k.gelu(out, dx, count);
            DeviceTensor gx = a.alloc(dtype, count + offset).view(offset, count);
            DeviceTensor geluBias = a.zeros(DType.F32, cols);
            k.geluBackwardBias(gx, geluBias, g, dx, rows, cols);
            DeviceTensor bias = a.zeros(DType.F32, cols);
            k.biasBackward(bias, g.view(0, rows, cols), rows, cols);
            double e1 = relError(out.toFloatArray(), want), e2 = relError(gx.toFloatArray(), wantDx), e3 = relError(bias.toFloatArray(), wantBias);
            // the GELU's bias gradient sums dx as stored: for bf16, float64 sums of the kernel's own rounded dx
            double[] storedSums = new double[cols];
            float[] stored = gx.toFloatArray();
            for (int i = 0; i < count; i++) storedSums[i % cols] += stored[i];
            double e4 = relError(geluBias.toFloatArray(), storedSums), e5 = relError(geluBias.toFloatArray(), wantGeluBias);
            assertTrue(e1 < tol && e2 < tol && e3 < 1e-5, "gelu " + e1 + ", gelu backward " + e2 + ", bias gradient " + e3);
            assertTrue(e4 < 1e-5 && e5 < tol, "gelu backward's bias gradient: " + e4 + " from its dx, " + e5 + " from float64");
        }
    }

    /**
     * Every bf16 value in [-12, 12]: the bf16 GELU and its derivative (Abramowitz &amp; Stegun's erfc, not erff) are the
     * float64 values within 5e-7 (absolute), rounded once to bf16. (In the far negative tail erff's 1 + erf(x / sqrt 2)
     * cancels to 0; the erfc form keeps those values to about 1 % there.)
     */
    @Test
    void bf16GeluIsFloat64RoundedOnceEverywhere() {
        java.util.List<Float> xs = new java.util.ArrayList<>();
        for (int bits = 0; bits < 0x10000; bits++) {
            float v = DType.bf16ToFloat((short) bits);
            if (Math.abs(v) <= 12) xs.add(v);
        }
        int count = xs.size();
        float[] x = new float[count], ones = new float[count];
        for (int i = 0; i < count; i++) {
            x[i] = xs.get(i);
            ones[i] = 1;
        }
        try (DeviceArena a = gpu.arena()) {
            DeviceTensor dx = shifted(a, DType.BF16, x, 0), g = shifted(a, DType.BF16, ones, 0);
            DeviceTensor out = a.alloc(DType.BF16, count), grad = a.alloc(DType.BF16, count);
            k.gelu(out, dx, count);
            k.geluBackwardBias(grad, a.zeros(DType.F32, count), g, dx, 1, count);
            float[] got = out.toFloatArray(), gotGrad = grad.toFloatArray();
            for (int i = 0; i < count; i++) {
                double v = x[i], cdf = 0.5 * (1 + org.apache.commons.math3.special.Erf.erf(v / Math.sqrt(2)));
                double slope = cdf + v * Math.exp(-0.5 * v * v) / Math.sqrt(2 * Math.PI);
                assertRoundedOnce(got[i], geluRef(v), "gelu(" + v + ")");
                assertRoundedOnce(gotGrad[i], slope, "gelu'(" + v + ")");
            }
        }
    }

    /** got is the bf16 rounding of some value within 5e-7 of want. */
    static void assertRoundedOnce(float got, double want, String what) {
        float lo = DType.bf16ToFloat(DType.floatToBf16((float) (want - 5e-7)));
        float hi = DType.bf16ToFloat(DType.floatToBf16((float) (want + 5e-7)));
        assertTrue(got >= lo && got <= hi, what + " = " + got + ", float64 " + want + " rounds to " + lo + " .. " + hi + " within 5e-7");
    }

    /** A tensor holding {@code data} that starts {@code offset} elements into its allocation. */
    static DeviceTensor shifted(DeviceArena a, DType dtype, float[] data, int offset) {
        DeviceTensor t = a.alloc(dtype, data.length + offset).view(offset, data.length);
        t.copyFrom(data);
        return t;
    }

    static float[] roundBf16(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = DType.bf16ToFloat(DType.floatToBf16(x[i]));
        return out;
    }

    /** x Φ(x) with Commons Math's float64 erf (independent of the GPU's erff). */
    static double geluRef(double x) {
        return 0.5 * x * (1 + org.apache.commons.math3.special.Erf.erf(x / Math.sqrt(2)));
    }

    /**
     * F32 rows of 1004 logits take the two-pass 16-byte path, 1003 the one-element path; BF16 rows of 1000 (a chunk a
     * thread) and 9000 (one or two chunks a thread of 1024) stay in registers, 1003 (not a multiple of 8) and 65544
     * (over 1024 · 8 chunks) take the two passes.
     */
    @ParameterizedTest(name = "{0} vocab {1}, row in registers {2}")
    @CsvSource({"F32, 1003, false", "F32, 1004, false", "BF16, 1000, true", "BF16, 9000, true", "BF16, 1003, false",
            "BF16, 65544, false"})
    void crossEntropyLossAndGradientMatchFloat64(DType dtype, int vocab, boolean inRegisters) {
        int rows = 9;
        Random r = new Random(3);
        float[] logits = random(r, rows * vocab, 3);
        if (dtype == DType.BF16) logits = roundBf16(logits);
        int[] targets = new int[rows];
        for (int i = 0; i < rows; i++) targets[i] = r.nextInt(vocab);
        double[] loss = new double[rows], grad = new double[rows * vocab];
        float scale = 1f / rows;
        for (int i = 0; i < rows; i++) {
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < vocab; j++) m = Math.max(m, logits[i * vocab + j]);
            for (int j = 0; j < vocab; j++) s += Math.exp(logits[i * vocab + j] - m);
            double lse = m + Math.log(s);
            loss[i] = lse - logits[i * vocab + targets[i]];
            for (int j = 0; j < vocab; j++)
                grad[i * vocab + j] = (Math.exp(logits[i * vocab + j] - lse) - (j == targets[i] ? 1 : 0)) * scale;
        }
        double tol = dtype == DType.BF16 ? 4e-3 : 1e-5;      // the gradient is stored in the logits' dtype
        try (DeviceArena a = gpu.arena()) {
            DeviceTensor dl = a.of(dtype, logits, rows, vocab), t = a.alloc(DType.I32, rows).copyFrom(targets);
            DeviceTensor losses = a.alloc(DType.F32, rows), only = a.alloc(DType.F32, rows);
            assertEquals(inRegisters, Kernels.ceRegisterThreads(dtype == DType.BF16, Kernels.rowVector(vocab, dl), vocab) > 0,
                    "the path under test");
            k.crossEntropy(dl, only, t, rows, vocab);
            k.crossEntropyForwardBackward(dl, losses, t, rows, vocab, scale);
            double e1 = relError(losses.toFloatArray(), loss), e2 = relError(only.toFloatArray(), loss), e3 = relError(dl.toFloatArray(), grad);
            assertTrue(e1 < 1e-6 && e2 < 1e-6 && e3 < tol, "losses " + e1 + " / " + e2 + ", gradient " + e3);
        }
    }

    /** c = 12: the wte gradient four columns a thread (one vector reduction each); c = 10: a column a thread. */
    @ParameterizedTest(name = "width {0}")
    @CsvSource({"12", "10"})
    void encoderAndStreamMeanMatchFloat64(int c) {
        int batch = 3, time = 5, n = 4, vocab = 7, tokens = batch * time;
        Random r = new Random(4);
        float[] wte = random(r, vocab * c, 1), wpe = random(r, time * c, 1), dx = random(r, tokens * n * c, 1);
        int[] ids = new int[tokens];
        for (int i = 0; i < tokens; i++) ids[i] = r.nextInt(vocab);
        double[] x = new double[tokens * n * c], dwte = new double[vocab * c], dwpe = new double[time * c];
        double[] mean = new double[tokens * c], dmean = new double[tokens * n * c];
        for (int i = 0; i < tokens; i++)
            for (int s = 0; s < n; s++)
                for (int j = 0; j < c; j++) {
                    int at = (i * n + s) * c + j;
                    x[at] = (double) wte[ids[i] * c + j] + wpe[(i % time) * c + j];
                    dwte[ids[i] * c + j] += dx[at];
                    dwpe[(i % time) * c + j] += dx[at];
                    mean[i * c + j] += dx[at] / n;
                }
        float[] g = random(r, tokens * c, 1);
        for (int i = 0; i < tokens * n * c; i++) dmean[i] = g[(i / (n * c)) * c + i % c] / (double) n;
        try (DeviceArena a = gpu.arena()) {
            DeviceTensor out = a.alloc(DType.F32, tokens, n, c), id = a.alloc(DType.I32, tokens).copyFrom(ids);
            DeviceTensor te = a.of(DType.F32, wte), pe = a.of(DType.F32, wpe);
            k.encoderForward(out, id, te, pe, tokens, time, c, n);
            DeviceTensor gte = a.zeros(DType.F32, vocab * c), gpe = a.zeros(DType.F32, time * c), gx = a.of(DType.F32, dx);
            k.encoderBackward(gte, gpe, gx, id, batch, time, c, n);
            DeviceTensor m = a.alloc(DType.F32, tokens * c), dm = a.alloc(DType.F32, tokens * n * c);
            k.streamMean(m, gx, tokens, c, n);
            k.streamMeanBackward(dm, a.of(DType.F32, g), tokens, c, n);
            double[] errs = {relError(out.toFloatArray(), x), relError(gte.toFloatArray(), dwte), relError(gpe.toFloatArray(), dwpe),
                    relError(m.toFloatArray(), mean), relError(dm.toFloatArray(), dmean)};
            for (double e : errs) assertTrue(e < 1e-6, "errors (x, dwte, dwpe, mean, dmean) " + java.util.Arrays.toString(errs));
        }
    }

    /** offset 0: float4 accesses and a 3-element tail (count 100,003); offset 1: arrays off a 16-byte boundary, one float at a time. */
    @ParameterizedTest(name = "offset {0}")
    @CsvSource({"0", "1"})
    void globalNormAndAdamWMatchFloat64(int offset) {
        int count = 100_003;
        Random r = new Random(5);
        float[] p = random(r, count, 1), g = random(r, count, 0.01), m = random(r, count, 0.01), v = new float[count];
        for (int i = 0; i < count; i++) v[i] = (float) Math.abs(r.nextGaussian() * 1e-4);
        double sq = 0;
        for (float x : g) sq += (double) x * x;
        double norm = Math.sqrt(sq), maxNorm = 1.0, clip = norm > maxNorm ? maxNorm / (norm + 1e-6) : 1;
        double lr = 6e-4, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1;
        int t = 7;
        double c1 = 1 - Math.pow(b1, t), c2 = 1 - Math.pow(b2, t);
        double[] want = new double[count];
        for (int i = 0; i < count; i++) {
            double gi = g[i] * clip, mi = b1 * m[i] + (1 - b1) * gi, vi = b2 * v[i] + (1 - b2) * gi * gi;
            want[i] = p[i] * (1 - lr * wd) - lr * (mi / c1) / (Math.sqrt(vi / c2) + eps);
        }
        try (DeviceArena a = gpu.arena()) {
            DeviceTensor dp = shifted(a, DType.F32, p, offset), dg = shifted(a, DType.F32, g, offset);
            DeviceTensor dm = shifted(a, DType.F32, m, offset), dv = shifted(a, DType.F32, v, offset);
            DeviceTensor lo = shifted(a, DType.BF16, new float[count], offset);   // the bf16 copy of the new weights
            assertEquals(offset == 0 ? 4 : 1, Kernels.vector(4, dp, lo, dg, dm, dv), "the path under test");
            DeviceTensor out = a.alloc(DType.F32, 1), partial = a.alloc(DType.F32, Kernels.NORM_PARTS);
            k.norm(out, partial, dg, count);
            double gotNorm = out.toFloatArray()[0];
            k.adamw(dp, lo, dg, dm, dv, count, (float) lr, (float) b1, (float) b2, (float) c1, (float) c2, (float) eps, (float) wd, out, (float) maxNorm);
            float[] got = dp.toFloatArray(), rounded = lo.toFloatArray();
            double e1 = Math.abs(gotNorm - norm) / norm, e2 = relError(got, want);
            assertTrue(norm > maxNorm, "the test must exercise clipping: norm " + norm);
            assertTrue(e1 < 1e-6 && e2 < 1e-6, "norm error " + e1 + ", AdamW error " + e2);
            for (int i = 0; i < count; i++)
                assertEquals(DType.bf16ToFloat(DType.floatToBf16(got[i])), rounded[i], "the bf16 copy at " + i);
        }
    }
}
