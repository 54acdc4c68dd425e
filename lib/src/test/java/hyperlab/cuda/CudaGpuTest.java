package hyperlab.cuda;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** On a GPU: kernels and GEMMs against float64 CPU references, compile errors, the cubin cache, and no leaks. */
class CudaGpuTest {
    private static Gpu gpu;
    private static CudaModule kernels;
    private static Path cacheDir;

    @BeforeAll
    static void setUp(@TempDir Path cache) {
        if (!Cuda.isAvailable()) return;
        cacheDir = cache;
        Cuda.useCache(cache);
        gpu = Cuda.gpu();
        kernels = Cuda.compileResource("hyperlab/cuda/kernels.cu");
        System.out.println("GPU " + gpu.info() + " libraries " + Cuda.libraries());
    }

    /** Per test rather than per class, so Maven's report lists each skipped test with the reason. */
    @BeforeEach
    void needsGpu() {
        assumeTrue(Cuda.isAvailable(), () -> "skipped, no usable GPU: " + Cuda.unavailableReason().orElse(""));
    }

    static float[] random(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = (float) r.nextGaussian();
        return x;
    }

    @Test
    void vectorAddMatchesCpu() {
        int n = 1_000_003;
        Random r = new Random(1);
        float[] a = random(r, n), b = random(r, n);
        try (DeviceArena arena = gpu.arena()) {
            DeviceTensor da = arena.of(DType.F32, a), db = arena.of(DType.F32, b), dc = arena.alloc(DType.F32, n);
            kernels.function("vector_add").launch(Dim3.cover(n, 256), Dim3.of(256), 0, da, db, dc, n);
            float[] c = dc.toFloatArray();
            double[] want = new double[n];
            for (int i = 0; i < n; i++) want[i] = (double) a[i] + b[i];
            double err = TestMetrics.relError(c, want);
            TestMetrics.record("vector_add_rel_error", err);
            assertTrue(err < 1e-7, "relative error " + err);
        }
    }

    @Test
    void reductionMatchesFloat64Sum() {
        int n = 1 << 24;
        Random r = new Random(2);
        float[] x = new float[n];
        double want = 0;
        for (int i = 0; i < n; i++) {
            x[i] = r.nextFloat();
            want += x[i];
        }
        try (DeviceArena arena = gpu.arena()) {
            DeviceTensor dx = arena.of(DType.F32, x), partial = arena.alloc(DType.F32, 1024), total = arena.alloc(DType.F32, 1);
            CudaFunction sum = kernels.function("reduce_sum");
            sum.launch(Dim3.of(1024), Dim3.of(256), 0, dx, partial, (long) n);
            sum.launch(Dim3.of(1), Dim3.of(1024), 0, partial, total, 1024L);
            double got = total.toFloatArray()[0];
            double err = Math.abs(got - want) / want;
            TestMetrics.record("reduce_sum_rel_error", err);
            assertTrue(err < 1e-5, "sum " + got + " vs " + want + ", relative error " + err);
        }
    }

    /** Row-major float64 reference of (batched) A·B from the values as stored on the device. */
    static double[] reference(float[] a, float[] b, int batch, int m, int n, int k) {
        double[] c = new double[batch * m * n];
        for (int p = 0; p < batch; p++)
            for (int i = 0; i < m; i++)
                for (int l = 0; l < k; l++) {
                    double av = a[(p * m + i) * k + l];
                    int bo = (p * k + l) * n, co = (p * m + i) * n;
                    for (int j = 0; j < n; j++) c[co + j] += av * b[bo + j];
                }
        return c;
    }

    private static double gemmError(DType t, int batch, int m, int n, int k, long seed) {
        Random r = new Random(seed);
        float[] a = random(r, batch * m * k), b = random(r, batch * k * n);
        try (DeviceArena arena = gpu.arena()) {
            DeviceTensor da = arena.alloc(t, batch, m, k).copyFrom(a), db = arena.alloc(t, batch, k, n).copyFrom(b);
            DeviceTensor dc = arena.alloc(t, batch, m, n);
            gpu.matmul().run(da, db, dc);
            // the reference uses the inputs as the device holds them (bf16-rounded for BF16)
            return TestMetrics.relError(dc.toFloatArray(), reference(da.toFloatArray(), db.toFloatArray(), batch, m, n, k));
        }
    }

    @Test
    void fp32GemmMatchesFloat64() {
        double err = gemmError(DType.F32, 1, 384, 320, 256, 3);
        TestMetrics.record("gemm_f32_384x320x256_rel_error", err);
        assertTrue(err < 1e-5, "relative error " + err);
    }

    @Test
    void bf16GemmMatchesFloat64() {
        double err = gemmError(DType.BF16, 1, 512, 384, 768, 4);
        TestMetrics.record("gemm_bf16_512x384x768_rel_error", err);
        assertTrue(err < 1e-2, "relative error " + err); // bf16 output keeps 8 bits: ~2^-9 per element
    }

    @Test
    void batchedBf16GemmMatchesFloat64() {
        double err = gemmError(DType.BF16, 6, 128, 96, 64, 5);
        TestMetrics.record("gemm_bf16_batched_6x128x96x64_rel_error", err);
        assertTrue(err < 1e-2, "relative error " + err);
    }

    /** Row-major [rows, cols] transpose, to build the reference of op(A)·op(B). */
    static float[] transpose(float[] x, int rows, int cols) {
        float[] t = new float[x.length];
        for (int i = 0; i < rows; i++) for (int j = 0; j < cols; j++) t[j * rows + i] = x[i * cols + j];
        return t;
    }

    @Test
    void transposedAndAccumulatingGemmsMatchFloat64() {
        int m = 96, n = 80, k = 112;
        Random r = new Random(7);
        float[] a = random(r, m * k), b = random(r, k * n), c0 = random(r, m * n);
        float[] at = transpose(a, m, k), bt = transpose(b, k, n);
        double[] ab = reference(a, b, 1, m, n, k);
        double worst = 0;
        try (DeviceArena arena = gpu.arena()) {
            for (int mode = 0; mode < 4; mode++) {
                boolean ta = (mode & 1) != 0, tb = (mode & 2) != 0;
                DeviceTensor da = ta ? arena.of(DType.F32, at, k, m) : arena.of(DType.F32, a, m, k);
                DeviceTensor db = tb ? arena.of(DType.F32, bt, n, k) : arena.of(DType.F32, b, k, n);
                DeviceTensor dc = arena.of(DType.F32, c0, m, n);
                gpu.matmul().run(da, ta, db, tb, dc, true);        // c = c0 + op(a)·op(b)
                double[] want = ab.clone();
                for (int i = 0; i < want.length; i++) want[i] += c0[i];
                double err = TestMetrics.relError(dc.toFloatArray(), want);
                worst = Math.max(worst, err);
                assertTrue(err < 1e-5, "transA=" + ta + " transB=" + tb + ": relative error " + err);
            }
        }
        TestMetrics.record("gemm_f32_transposed_accumulate_rel_error", worst);
    }

    @Test
    void mixedBf16InFp32OutGemmsMatchFloat64() {
        double err = mixedPrecisionError(gpu);
        TestMetrics.record("gemm_bf16_in_f32_out_rel_error", err);
        assertTrue(err < 1e-5, "relative error " + err);    // fp32 result of bf16 operands: only the accumulation rounds
    }

    /**
     * The engine's bf16 GEMMs: bf16 operands, fp32 c, in every transpose mode, accumulating into c, with a bias
     * epilogue, adding c into another buffer d (RC's y = x + f(x) + b, with x left as it was), and a weight gradient
     * c += aᵀ·b whose epilogue writes the bias gradient Σ_k a[k, i]; the worst relative error against float64 maths
     * on the bf16-rounded inputs.
     */
    static double mixedPrecisionError(Gpu gpu) {
        int m = 64, n = 48, k = 80;
        Random r = new Random(8);
        float[] a = random(r, m * k), b = random(r, k * n), c0 = random(r, m * n), bias = random(r, n);
        double worst = 0;
        try (DeviceArena arena = gpu.arena()) {
            float[] a16 = arena.of(DType.BF16, a, m, k).toFloatArray(), b16 = arena.of(DType.BF16, b, k, n).toFloatArray();
            double[] ab = reference(a16, b16, 1, m, n, k);
            for (int mode = 0; mode < 7; mode++) {
                boolean ta = (mode & 1) != 0 && mode < 4, tb = (mode & 2) != 0 && mode < 4, withBias = mode == 4;
                DeviceTensor da = ta ? arena.of(DType.BF16, transpose(a16, m, k), k, m) : arena.of(DType.BF16, a16, m, k);
                DeviceTensor db = tb ? arena.of(DType.BF16, transpose(b16, k, n), n, k) : arena.of(DType.BF16, b16, k, n);
                DeviceTensor dc = arena.of(DType.F32, c0, m, n);
                double[] want = ab.clone();
                if (mode == 6) {                                       // the engine's dW += dYᵀ·X, db = Σ_t dY
                    DeviceTensor dat = arena.of(DType.BF16, transpose(a16, m, k), k, m), grad = arena.zeros(DType.F32, m);
                    gpu.matmul().run(dat, true, db, false, dc, true, Epilogue.BIAS_GRAD, grad);
                    for (int i = 0; i < want.length; i++) want[i] += c0[i];
                    double[] sums = new double[m];
                    for (int i = 0; i < m; i++) for (int l = 0; l < k; l++) sums[i] += a16[i * k + l];
                    worst = Math.max(worst, Math.max(TestMetrics.relError(dc.toFloatArray(), want),
                            TestMetrics.relError(grad.toFloatArray(), sums)));
                    continue;
                }
                if (mode == 5) {
                    DeviceTensor dd = arena.alloc(DType.F32, m, n);
                    gpu.matmul().run(da, false, db, false, dd, dc, Epilogue.BIAS, arena.of(DType.F32, bias));
                    for (int i = 0; i < want.length; i++) want[i] += c0[i] + bias[i % n];
                    if (!java.util.Arrays.equals(dc.toFloatArray(), c0)) return Double.POSITIVE_INFINITY;   // c must stay
                    worst = Math.max(worst, TestMetrics.relError(dd.toFloatArray(), want));
                    continue;
                }
                if (withBias) {
                    gpu.matmul().run(da, false, db, false, dc, false, Epilogue.BIAS, arena.of(DType.F32, bias));
                    for (int i = 0; i < want.length; i++) want[i] += bias[i % n];
                } else {
                    gpu.matmul().run(da, ta, db, tb, dc, true);          // c = c0 + op(a)·op(b)
                    for (int i = 0; i < want.length; i++) want[i] += c0[i];
                }
                worst = Math.max(worst, TestMetrics.relError(dc.toFloatArray(), want));
            }
        }
        return worst;
    }

    @Test
    void biasGeluEpilogueMatchesFloat64() {
        int m = 256, n = 192, k = 128;
        Random r = new Random(6);
        float[] a = random(r, m * k), b = random(r, k * n), bias = random(r, n);
        try (DeviceArena arena = gpu.arena()) {
            DeviceTensor da = arena.of(DType.F32, a, m, k), db = arena.of(DType.F32, b, k, n), dbias = arena.of(DType.F32, bias);
            DeviceTensor dc = arena.alloc(DType.F32, m, n);
            gpu.matmul().run(da, db, dc, Epilogue.GELU_BIAS, dbias);
            double[] want = reference(a, b, 1, m, n, k);
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double x = want[i * n + j] + bias[j];
                    want[i * n + j] = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
                }
            double err = TestMetrics.relError(dc.toFloatArray(), want);
            TestMetrics.record("gemm_f32_bias_gelu_rel_error", err);
            assertTrue(err < 1e-4, "relative error " + err);
        }
    }

    @Test
    void compileErrorShowsNvrtcLogWithLineNumbers() {
        String src = """
                extern "C" __global__ void broken(float* x) {
                    int i = threadIdx.x;
                    x[i] = undefined_name;
                }
                """;
        CompileException e = assertThrows(CompileException.class, () -> Cuda.compile(src));
        assertTrue(e.getMessage().contains("cell.cu(3): error"), e.getMessage());
        assertTrue(e.getMessage().contains("undefined_name"), e.getMessage());
        assertTrue(e.getMessage().contains("    3 |     x[i] = undefined_name;"), e.getMessage());
        System.out.println(e.getMessage());
    }

    @Test
    void secondCompileComesFromTheDiskCache() {
        String src = "extern \"C\" __global__ void k_" + System.nanoTime() + "(int* x) { x[0] = 1; }";
        try (CudaModule first = Cuda.compile(src); CudaModule second = Cuda.compile(src)) {
            assertFalse(first.fromCache());
            assertTrue(second.fromCache());
        }
    }

    @Test
    void launchErrorsNameTheCallAndCudaError() {
        CudaException e = assertThrows(CudaException.class,
                () -> kernels.function("empty").launch(Dim3.of(1), Dim3.of(4096), 0));
        assertTrue(e.getMessage().startsWith("cuLaunchKernel(empty"), e.getMessage());
        assertTrue(e.getMessage().contains("CUDA_ERROR_INVALID_VALUE"), e.getMessage());
        CudaException f = assertThrows(CudaException.class, () -> kernels.function("no_such_kernel"));
        assertTrue(f.getMessage().contains("cuModuleGetFunction(\"no_such_kernel\")") && f.getMessage().contains("CUDA_ERROR_NOT_FOUND"),
                f.getMessage());
    }

    @Test
    void tenThousandArenasLeaveNoMemoryBehind() {
        try (DeviceArena warm = gpu.arena()) {
            warm.alloc(DType.F32, 1 << 21);
        }
        gpu.synchronize();
        long before = gpu.memoryInfo()[0];
        for (int i = 0; i < 10_000; i++) {
            try (DeviceArena arena = gpu.arena()) {
                arena.alloc(DType.F32, 1 << 21); // 8 MiB: 10,000 leaked would exceed the card's memory
                arena.alloc(DType.BF16, 17, 3);
                arena.alloc(DType.U8, 100).close();
            }
        }
        gpu.synchronize();
        long after = gpu.memoryInfo()[0];
        TestMetrics.record("arena_loop_free_bytes_delta", before - after);
        assertTrue(before - after < (4L << 20), "free memory fell by " + (before - after) + " bytes");
    }

    @Test
    void dtypesRoundTripThroughDeviceMemory() {
        try (DeviceArena arena = gpu.arena()) {
            assertEquals(1.5f, arena.of(DType.BF16, new float[] {1.5f}).toFloatArray()[0]);
            assertEquals(-2.25f, arena.of(DType.F16, new float[] {-2.25f}).toFloatArray()[0]);
            int[] ints = {1, -2, 1 << 30};
            assertEquals(ints[2], arena.alloc(DType.I32, 3).copyFrom(ints).toIntArray()[2]);
            DeviceTensor src = arena.of(DType.F32, new float[] {1, 2, 3, 4});
            DeviceTensor dst = arena.zeros(DType.F32, 4).copyFrom(src);
            assertEquals(4f, dst.toFloatArray()[3]);
            assertEquals(16, dst.toByteArray().length);
        }
    }

    @Test
    void ptxIsAvailableAndLoadsToo() {
        String src = "extern \"C\" __global__ void twice(float* x) { x[threadIdx.x] *= 2.f; }";
        String ptx = Cuda.ptx(src);
        assertTrue(ptx.contains(".entry twice") && ptx.contains(".target " + gpu.info().arch()), ptx);
        try (CudaModule m = Cuda.compile(src, "-arch=compute_" + gpu.info().arch().substring(3));
             DeviceArena arena = gpu.arena()) {
            DeviceTensor x = arena.of(DType.F32, new float[] {1, -2, 3.5f});
            m.function("twice").launch(Dim3.of(1), Dim3.of(3), 0, x);
            assertEquals(java.util.List.of(2f, -4f, 7f), boxed(x.toFloatArray()));
        }
    }

    private static java.util.List<Float> boxed(float[] v) {
        java.util.List<Float> l = new java.util.ArrayList<>();
        for (float f : v) l.add(f);
        return l;
    }

    @Test
    void damagedCacheEntryIsRecompiled(@TempDir Path dir) throws Exception {
        String src = "extern \"C\" __global__ void set7(int* x) { x[0] = 7; }";
        Cuda.useCache(dir);
        try {
            Cuda.compile(src).close();
            try (var files = java.nio.file.Files.list(dir)) {
                for (Path p : files.toList()) java.nio.file.Files.write(p, new byte[] {1, 2, 3});
            }
            try (CudaModule m = Cuda.compile(src); DeviceArena arena = gpu.arena()) {
                assertFalse(m.fromCache());
                DeviceTensor x = arena.zeros(DType.I32, 1);
                m.function("set7").launch(Dim3.of(1), Dim3.of(1), 0, x);
                assertEquals(7, x.toIntArray()[0]);
            }
        } finally {
            Cuda.useCache(cacheDir);
        }
    }

    @Test
    void anotherThreadCanUseTheGpu() throws Exception {
        double[] got = new double[1];
        Thread t = new Thread(() -> {
            try (DeviceArena arena = Cuda.gpu().arena()) {
                DeviceTensor x = arena.alloc(DType.F64, 2).copyFrom(new double[] {0.1, 1e300});
                got[0] = x.toDoubleArray()[1];
            }
        });
        t.start();
        t.join();
        assertEquals(1e300, got[0]);
    }
}
