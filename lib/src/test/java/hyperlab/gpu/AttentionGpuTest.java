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

import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Attention forward and backward against float64 maths (loss Σ w·y), on a GPU or else the CPU emulator (which also
 * runs the tensor-core kernels, through its emulated mma.sync). F32: rel. error ≤ 1e-5 forward, ≤ 1e-4 backward;
 * BF16: ≤ 2e-2 against the reference computed from the bf16-rounded inputs.
 */
class AttentionGpuTest {
    private static Gpu gpu;

    @BeforeAll
    static void setUp() {
        gpu = TestDevices.gpuOrEmulator().orElse(null);
    }

    @BeforeEach
    void needsDevice() {
        assumeTrue(gpu != null, TestDevices::why);
    }

    record Errors(double y, double lse, double dq, double dk, double dv) {
        double backward() {
            return Math.max(dq, Math.max(dk, dv));
        }

        double forward() {
            return Math.max(y, lse);
        }
    }

    static float[] roundBf16(float[] x) {
        float[] r = new float[x.length];
        for (int i = 0; i < x.length; i++) r[i] = DType.bf16ToFloat(DType.floatToBf16(x[i]));
        return r;
    }

    static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }

    /** Runs forward and backward of {@code att} on random inputs and compares with float64. */
    static Errors run(Attention att, int batch, int time, long seed) {
        int heads = att.heads(), d = att.headDim(), c = heads * d;
        Random r = new Random(seed);
        float[] qkv = new float[batch * time * 3 * c], w = new float[batch * time * c];
        for (int i = 0; i < qkv.length; i++) qkv[i] = (float) (r.nextGaussian() * 1.5);   // peaked rows, not uniform
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        if (att.dtype() == DType.BF16) {
            qkv = roundBf16(qkv);
            w = roundBf16(w);
        }
        AttentionReference ref = new AttentionReference(toDouble(qkv), toDouble(w), batch, time, heads, d);
        try (DeviceArena a = gpu.arena()) {
            DeviceTensor tq = a.of(att.dtype(), qkv, batch, time, 3L * c), tw = a.of(att.dtype(), w, batch, time, c);
            DeviceTensor y = a.alloc(att.dtype(), batch, time, c), lse = a.alloc(DType.F32, batch, heads, time);
            DeviceTensor dqkv = a.alloc(att.dtype(), batch, time, 3L * c);
            float[] junk = new float[qkv.length];
            Arrays.fill(junk, Float.NaN);
            att.forward(tq, y, lse, batch, time);
            for (int pass = 0; pass < 2; pass++) {                 // the second pass finds the first's dQ sums in scratch
                dqkv.copyFrom(junk);                               // the backward must overwrite every element
                att.backward(tw, tq, y, lse, dqkv, batch, time);
            }
            float[] gy = y.toFloatArray(), gl = lse.toFloatArray(), gd = dqkv.toFloatArray();
            return new Errors(AttentionReference.relError(gy, ref.y, c, 0, c), AttentionReference.relError(gl, ref.lse, time, 0, time),
                    AttentionReference.relError(gd, ref.dqkv, 3 * c, 0, c), AttentionReference.relError(gd, ref.dqkv, 3 * c, c, c),
                    AttentionReference.relError(gd, ref.dqkv, 3 * c, 2 * c, c));
        }
    }

    @ParameterizedTest(name = "F32 B={0} heads={1} T={2} d={3}")
    @CsvSource({"2,2,1,16", "2,3,17,16", "2,2,64,32", "2,3,130,32", "2,2,17,64", "2,3,64,64", "2,2,130,64", "2,3,33,24"})
    void f32MatchesFloat64(int batch, int heads, int time, int d) {
        try (Attention att = new Attention(gpu, heads, d, DType.F32)) {
            Errors e = run(att, batch, time, 11L * time + d);
            System.out.printf("attention F32 B=%d h=%d T=%d d=%d: %s%n", batch, heads, time, d, e);
            assertTrue(e.forward() <= 1e-5, "forward " + e);
            assertTrue(e.backward() <= 1e-4, "backward " + e);
        }
    }

    @ParameterizedTest(name = "BF16 tensor cores B={0} heads={1} T={2} d={3}")
    @CsvSource({"2,2,1,16", "2,3,17,16", "2,2,64,32", "2,3,130,32", "2,2,17,64", "2,3,64,64", "2,2,130,64", "1,2,70,128", "1,2,300,64", "1,1,260,16"})
    void bf16TensorCoresMatchFloat64(int batch, int heads, int time, int d) {
        try (Attention att = new Attention(gpu, heads, d, DType.BF16)) {
            assertTrue(att.tensorCores());
            Errors e = run(att, batch, time, 13L * time + d);
            System.out.printf("attention BF16 (tensor cores) B=%d h=%d T=%d d=%d: %s%n", batch, heads, time, d, e);
            assertTrue(e.forward() <= 2e-2 && e.backward() <= 2e-2, e.toString());
        }
    }

    /**
     * Every backward tiling AttentionBench can time computes the same gradients (the engine's is tested above): 32-key
     * warps whose second m16 tile passes T or the diagonal, blocks of 128 keys at d = 128.
     */
    @ParameterizedTest(name = "BF16 tensor cores, backward tiling {4}, B={0} heads={1} T={2} d={3}")
    @CsvSource({"2,3,130,64,128x1", "1,2,300,64,128x2", "2,3,130,32,64x1", "1,2,200,48,128x1", "1,1,260,16,64x2", "1,2,130,64,64x4",
            "2,3,130,64,128x2x32", "1,2,300,64,64x2x32", "2,2,17,32,64x4x32", "1,1,260,16,64x1x32", "1,2,200,48,128x1x32",
            "1,2,70,128,128x1"})
    void everyBackwardTilingMatchesFloat64(int batch, int heads, int time, int d, String tiling) {
        try (Attention att = new Attention(gpu, heads, d, DType.BF16, true, Attention.BackwardTiling.parse(tiling))) {
            Errors e = run(att, batch, time, 19L * time + d);
            System.out.printf("attention BF16 (tensor cores, backward %s) B=%d h=%d T=%d d=%d: %s%n", tiling, batch, heads, time, d, e);
            assertTrue(e.forward() <= 2e-2 && e.backward() <= 2e-2, e.toString());
        }
    }

    /** Every forward tiling AttentionBench can time: 32-query warps whose second m tile passes T or skips a key tile. */
    @ParameterizedTest(name = "BF16 tensor cores, forward tiling {4}, B={0} heads={1} T={2} d={3}")
    @CsvSource({"2,3,130,64,32x64x2", "1,2,300,64,32x32x2", "2,2,17,32,32x64x1", "1,2,200,48,16x32x4", "1,2,70,128,16x32x1",
                "1,1,260,16,32x64x3", "2,3,64,64,16x64x3"})
    void everyForwardTilingMatchesFloat64(int batch, int heads, int time, int d, String tiling) {
        try (Attention att = new Attention(gpu, heads, d, DType.BF16, true, Attention.ForwardTiling.parse(tiling),
                Attention.BackwardTiling.of(d))) {
            Errors e = run(att, batch, time, 23L * time + d);
            System.out.printf("attention BF16 (tensor cores, forward %s) B=%d h=%d T=%d d=%d: %s%n", tiling, batch, heads, time, d, e);
            assertTrue(e.forward() <= 2e-2 && e.backward() <= 2e-2, e.toString());
        }
    }

    @ParameterizedTest(name = "BF16 SIMT B={0} heads={1} T={2} d={3}")
    @CsvSource({"2,3,130,64", "2,2,33,24"})
    void bf16SimtMatchesFloat64(int batch, int heads, int time, int d) {
        try (Attention att = new Attention(gpu, heads, d, DType.BF16, false)) {
            Errors e = run(att, batch, time, 17L * time + d);
            System.out.printf("attention BF16 (SIMT) B=%d h=%d T=%d d=%d: %s%n", batch, heads, time, d, e);
            assertTrue(e.forward() <= 2e-2 && e.backward() <= 2e-2, e.toString());
        }
    }

    /**
     * The bias gradient the backward adds into dbias: the column sums over tokens of dqkv as stored (float64 sums of the
     * kernels' own dqkv, to 1e-5) and of the float64 reference (the dtype's tolerance), added to what dbias held.
     */
    @ParameterizedTest(name = "{0} tensor cores {1} B={2} heads={3} T={4} d={5}")
    @CsvSource({"BF16, true, 2, 3, 130, 64", "BF16, true, 1, 2, 70, 128", "BF16, false, 2, 2, 33, 24", "F32, false, 2, 3, 67, 16"})
    void backwardAddsTheBiasGradient(DType dtype, boolean tensorCores, int batch, int heads, int time, int d) {
        int c = heads * d, rows = batch * time;
        Random r = new Random(23);
        float[] qkv = new float[rows * 3 * c], w = new float[rows * c], start = new float[3 * c];
        for (int i = 0; i < qkv.length; i++) qkv[i] = (float) (r.nextGaussian() * 1.5);
        for (int i = 0; i < w.length; i++) w[i] = (float) r.nextGaussian();
        for (int i = 0; i < start.length; i++) start[i] = (float) r.nextGaussian();
        if (dtype == DType.BF16) {
            qkv = roundBf16(qkv);
            w = roundBf16(w);
        }
        AttentionReference ref = new AttentionReference(toDouble(qkv), toDouble(w), batch, time, heads, d);
        try (Attention att = new Attention(gpu, heads, d, dtype, tensorCores); DeviceArena a = gpu.arena()) {
            DeviceTensor tq = a.of(dtype, qkv, batch, time, 3L * c), tw = a.of(dtype, w, batch, time, c);
            DeviceTensor y = a.alloc(dtype, batch, time, c), lse = a.alloc(DType.F32, batch, heads, time);
            DeviceTensor dqkv = a.alloc(dtype, batch, time, 3L * c), dbias = a.of(DType.F32, start, 3 * c);
            att.forward(tq, y, lse, batch, time);
            att.backward(tw, tq, y, lse, dqkv, dbias, batch, time);
            float[] got = dbias.toFloatArray(), stored = dqkv.toFloatArray();
            double[] fromStored = new double[3 * c], fromRef = new double[3 * c], gotMinusStart = new double[3 * c];
            for (int i = 0; i < stored.length; i++) {
                fromStored[i % (3 * c)] += stored[i];
                fromRef[i % (3 * c)] += ref.dqkv[i];
            }
            for (int j = 0; j < 3 * c; j++) {
                fromStored[j] += start[j];
                gotMinusStart[j] = got[j] - start[j];
            }
            double eStored = AttentionReference.relError(got, fromStored, 3 * c, 0, 3 * c);
            double eRef = relError(gotMinusStart, fromRef);
            System.out.printf("attention %s bias gradient (tensor cores %b) d=%d: %.2e from its dqkv, %.2e from float64%n", dtype,
                    tensorCores, d, eStored, eRef);
            assertTrue(eStored <= 1e-5, "against the sums of its own dqkv: " + eStored);
            assertTrue(eRef <= (dtype == DType.F32 ? 1e-4 : 2e-2), "against float64: " + eRef);
        }
    }

    private static double relError(double[] got, double[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < got.length; i++) {
            num += (got[i] - want[i]) * (got[i] - want[i]);
            den += want[i] * want[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    /** Many key tiles and the preset-M head size: only on a real GPU (the emulator would take minutes). */
    @Test
    void longSequencesOnTheGpu() {
        assumeTrue(!gpu.emulated(), "real GPU only");
        for (DType t : new DType[] {DType.BF16, DType.F32}) {
            try (Attention att = new Attention(gpu, 2, 64, t)) {
                Errors e = run(att, 1, 1000, 5);
                System.out.printf("attention %s B=1 h=2 T=1000 d=64: %s%n", t, e);
                double fwd = t == DType.F32 ? 1e-5 : 2e-2, bwd = t == DType.F32 ? 1e-4 : 2e-2;
                assertTrue(e.forward() <= fwd && e.backward() <= bwd, e.toString());
            }
        }
    }
}
