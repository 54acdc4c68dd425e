package hyperlab.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

/** The fused Sinkhorn kernel (resource hyperlab/cuda/sinkhorn.cu) against float64 Sinkhorn-Knopp on the CPU. */
class SinkhornKernelTest {
    @Test
    void fusedKernelMatchesFloat64Sinkhorn() {
        assumeTrue(Cuda.isAvailable(), () -> "skipped, no usable GPU: " + Cuda.unavailableReason().orElse(""));
        int tokens = 1 << 18;
        Random r = new Random(11);
        for (int n : new int[] {2, 4, 8}) {
            float[] logits = new float[tokens * n * n];
            for (int i = 0; i < logits.length; i++) logits[i] = (float) (3 * r.nextGaussian());
            CudaModule module = Cuda.compileResource("hyperlab/cuda/sinkhorn.cu");
            float[] got;
            float ms;
            try (DeviceArena arena = Cuda.gpu().arena()) {
                DeviceTensor in = arena.of(DType.F32, logits), out = arena.alloc(DType.F32, logits.length);
                Runnable launch = () -> module.function("sinkhorn_f32").launch(Dim3.cover(tokens, 128), Dim3.of(128), 0, in, out, tokens, n, 20);
                launch.run();
                ms = Cuda.gpu().time(launch);
                got = out.toFloatArray();
            }
            long t0 = System.nanoTime();
            double worst = 0;
            for (int t = 0; t < tokens; t++) {
                double[] want = reference(logits, t * n * n, n, 20);
                for (int i = 0; i < n * n; i++) worst = Math.max(worst, Math.abs(want[i] - got[t * n * n + i]));
            }
            double cpuMs = (System.nanoTime() - t0) / 1e6;
            TestMetrics.record("sinkhorn_n" + n + "_max_abs_err", worst);
            TestMetrics.record("sinkhorn_n" + n + "_gpu_ms_" + tokens + "_tokens", ms);
            TestMetrics.record("sinkhorn_n" + n + "_cpu_float64_ms", cpuMs);
            System.out.printf("sinkhorn n=%d, %d tokens: max |gpu - float64| = %.2e, gpu %.3f ms, cpu float64 %.1f ms%n", n, tokens, worst, ms, cpuMs);
            assertTrue(worst < 2e-5, "n=" + n + ": max abs error " + worst);
        }
    }

    /** Plain float64 Sinkhorn-Knopp of exp(logits): column then row normalisation per iteration. */
    static double[] reference(float[] logits, int offset, int n, int iterations) {
        double[] m = new double[n * n];
        for (int i = 0; i < n * n; i++) m[i] = Math.exp(logits[offset + i]);
        for (int it = 0; it < iterations; it++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += m[i * n + j];
                for (int i = 0; i < n; i++) m[i * n + j] /= s;
            }
            for (int i = 0; i < n; i++) {
                double s = 0;
                for (int j = 0; j < n; j++) s += m[i * n + j];
                for (int j = 0; j < n; j++) m[i * n + j] /= s;
            }
        }
        return m;
    }
}
