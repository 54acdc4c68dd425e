package hyperlab.cuda;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The CPU emulator runs real kernel sources (block barriers, warp shuffles, shared memory) like a GPU would. */
class EmulatorTest {
    @BeforeEach
    void needsCompiler() {
        assumeTrue(Cuda.emulatorUnavailableReason().isEmpty(), () -> "skipped: " + Cuda.emulatorUnavailableReason().orElse(""));
    }

    @Test
    void emulatedMixedPrecisionGemmMatchesFloat64() {
        double err = CudaGpuTest.mixedPrecisionError(Cuda.emulator());
        assertTrue(err < 1e-6, "relative error " + err);    // float64 accumulation, rounded once to fp32
    }

    @Test
    void projectKernelsRunOnTheEmulator() {
        Gpu emu = Cuda.emulator();
        CudaModule m = Cuda.compileResource(emu, "hyperlab/cuda/kernels.cu");
        int n = 10_007;
        Random r = new Random(1);
        float[] a = new float[n], b = new float[n];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            a[i] = r.nextFloat();
            b[i] = r.nextFloat();
            sum += a[i];
        }
        try (DeviceArena arena = emu.arena()) {
            DeviceTensor da = arena.of(DType.F32, a), db = arena.of(DType.F32, b), dc = arena.alloc(DType.F32, n);
            m.function("vector_add").launch(Dim3.cover(n, 256), Dim3.of(256), 0, da, db, dc, n);
            float[] c = dc.toFloatArray();
            for (int i = 0; i < n; i++) assertEquals(a[i] + b[i], c[i], 0f, "element " + i);
            DeviceTensor partial = arena.alloc(DType.F32, 8), total = arena.alloc(DType.F32, 1);
            m.function("reduce_sum").launch(Dim3.of(8), Dim3.of(256), 0, da, partial, (long) n);
            m.function("reduce_sum").launch(Dim3.of(1), Dim3.of(256), 0, partial, total, 8L);
            assertEquals(sum, total.toFloatArray()[0], 1e-5 * sum);
        }
    }

    @Test
    void warpShufflesBarriersAndDynamicSharedMemoryBehaveAsOnAGpu() {
        Gpu emu = Cuda.emulator();
        CudaModule m = Cuda.compile(emu, "emu_test.cu", """
                extern "C" __global__ void warp_and_block(const float* x, float* warpSums, float* blockSums, float* reversed) {
                    extern __shared__ float buf[];
                    int t = threadIdx.x;
                    float v = x[blockIdx.x * blockDim.x + t];
                    float w = v;
                    for (int o = 16; o > 0; o >>= 1) w += __shfl_xor_sync(0xffffffffu, w, o);
                    if (t % 32 == 0) warpSums[(blockIdx.x * blockDim.x + t) / 32] = w;
                    buf[t] = v;
                    __syncthreads();
                    reversed[blockIdx.x * blockDim.x + t] = buf[blockDim.x - 1 - t];
                    __shared__ float total;
                    if (t == 0) total = 0.f;
                    __syncthreads();
                    atomicAdd(&total, v);
                    __syncthreads();
                    if (t == 0) blockSums[blockIdx.x] = total;
                }
                """);
        int blocks = 3, threads = 128;
        float[] x = new float[blocks * threads];
        for (int i = 0; i < x.length; i++) x[i] = i % 7 - 3;
        try (DeviceArena arena = emu.arena()) {
            DeviceTensor dx = arena.of(DType.F32, x), ws = arena.alloc(DType.F32, x.length / 32), bs = arena.alloc(DType.F32, blocks);
            DeviceTensor rev = arena.alloc(DType.F32, x.length);
            m.function("warp_and_block").launch(Dim3.of(blocks), Dim3.of(threads), threads * 4, dx, ws, bs, rev);
            float[] w = ws.toFloatArray(), b = bs.toFloatArray(), rv = rev.toFloatArray();
            for (int i = 0; i < w.length; i++) {
                float want = 0;
                for (int j = 0; j < 32; j++) want += x[i * 32 + j];
                assertEquals(want, w[i], 0f, "warp " + i);
            }
            for (int blk = 0; blk < blocks; blk++) {
                float want = 0;
                for (int j = 0; j < threads; j++) {
                    want += x[blk * threads + j];
                    assertEquals(x[blk * threads + threads - 1 - j], rv[blk * threads + j], 0f);
                }
                assertEquals(want, b[blk], 0f, "block " + blk);
            }
        }
    }

    @Test
    void compileErrorsQuoteTheSourceLineAndEmulatedGemmMatchesFloat64() {
        Gpu emu = Cuda.emulator();
        CompileException e = assertThrows(CompileException.class, () -> Cuda.compile(emu, "cell.cu", """
                extern "C" __global__ void broken(float* x) {
                    x[threadIdx.x] = undefined_name;
                }
                """));
        assertTrue(e.getMessage().contains("cell.cu(2): error"), e.getMessage());
        int m = 5, n = 4, k = 3;
        float[] a = new float[m * k], b = new float[n * k];
        for (int i = 0; i < a.length; i++) a[i] = i * 0.5f - 2;
        for (int i = 0; i < b.length; i++) b[i] = 1 - i * 0.25f;
        try (DeviceArena arena = emu.arena()) {
            DeviceTensor da = arena.of(DType.F32, a, m, k), db = arena.of(DType.F32, b, n, k), dc = arena.zeros(DType.F32, m, n);
            emu.matmul().run(da, false, db, true, dc, false);      // c = a · bᵀ
            float[] c = dc.toFloatArray();
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double want = 0;
                    for (int l = 0; l < k; l++) want += (double) a[i * k + l] * b[j * k + l];
                    assertEquals(want, c[i * n + j], 1e-6);
                }
        }
    }
}
