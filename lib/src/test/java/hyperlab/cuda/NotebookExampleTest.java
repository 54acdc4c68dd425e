package hyperlab.cuda;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** What a notebook cell does: CUDA C in a Java text block, compiled, launched on a 1M-element buffer, checked. */
class NotebookExampleTest {
    @Test
    void textBlockKernelOnAMillionElements() {
        assumeTrue(Cuda.isAvailable(), () -> "skipped, no usable GPU: " + Cuda.unavailableReason().orElse(""));
        CudaModule cell = Cuda.compile("""
                extern "C" __global__ void axpb(float* y, const float* x, float a, float b, int n) {
                    int i = blockIdx.x * blockDim.x + threadIdx.x;
                    if (i < n) y[i] = a * x[i] + b;
                }
                """);
        int n = 1 << 20;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = i % 1000 - 500;
        try (DeviceArena arena = Cuda.gpu().arena()) {
            DeviceTensor dx = arena.of(DType.F32, x), dy = arena.alloc(DType.F32, n);
            cell.function("axpb").launch(Dim3.cover(n, 256), Dim3.of(256), 0, dy, dx, 2f, 0.5f, n);
            float[] y = dy.toFloatArray();
            for (int i = 0; i < n; i++) assertEquals(2.0 * x[i] + 0.5, y[i], 0.0, "y[" + i + "]");
        }
    }
}
