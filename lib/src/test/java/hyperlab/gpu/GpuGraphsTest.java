package hyperlab.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import hyperlab.cuda.CudaException;
import hyperlab.cuda.CudaGraph;
import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.cuda.Gpu;
import hyperlab.nn.GptConfig;
import hyperlab.nn.Paradigm;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Steps replayed from CUDA graphs compute what steps queued kernel by kernel compute. */
class GpuGraphsTest {
    private static final Gpu DEVICE = TestDevices.gpuOrEmulator().orElse(null);

    /**
     * Training steps (with AdamW) and evaluations, interleaved so that both graphs are made and replayed, on a model
     * with graphs and one without, from the same weights: the same losses and weights. The emulator's replay runs the
     * same kernels again, so its bits match; on a GPU atomics sum some gradients in any order (and bf16 attention's dQ),
     * so losses must agree to 1e-6 relative and the weights after the updates to 1e-6 (fp32) or 1e-4 (bf16) norm-wise.
     */
    @ParameterizedTest(name = "{0} n={1}, group {2}, {3}, {4} streams")
    @CsvSource({"rc,1,1,F32,F32,false", "mhc,2,1,F32,F32,false", "mhc,2,2,F32,F32,true", "hc,2,1,BF16,F32,false",
            "mhc,4,1,BF16,BF16,false", "shc,2,1,BF16,BF16,false"})
    void graphStepsMatchKernelByKernelSteps(String paradigm, int n, int group, DType precision, DType streams, boolean onEmulator) {
        assumeTrue(DEVICE != null, TestDevices::why);
        // the emulator replays by running the work again, so one case checks the bookkeeping there (CI stays fast)
        assumeTrue(!DEVICE.emulated() || onEmulator, "on the emulator only the mhc group-2 case runs");
        GptConfig cfg = GptConfig.preset("tiny").layers(2).context(32).paradigm(Paradigm.parse(paradigm)).streams(n);
        int batch = 2, time = 32, tokens = batch * time;
        Random r = new Random(7);
        // made uncaptured, captured, replayed: the training graph, then the evaluation graph, then training again
        boolean[] train = {true, true, true, false, false, false, true};
        try (GpuGpt plain = new GpuGpt(DEVICE, cfg, batch, time, group, precision, streams);
             GpuGpt graphed = new GpuGpt(DEVICE, cfg, batch, time, group, precision, streams);
             GpuAdamW plainOpt = new GpuAdamW(plain, 0.9, 0.95, 1e-8, 0.1, 1.0);
             GpuAdamW graphedOpt = new GpuAdamW(graphed, 0.9, 0.95, 1e-8, 0.1, 1.0)) {
            plain.useGraphs(false);
            graphed.useGraphs(true);
            for (int s = 0; s < train.length; s++) {
                int[] ids = new int[tokens], targets = new int[tokens];
                for (int i = 0; i < tokens; i++) {
                    ids[i] = r.nextInt(cfg.vocab());
                    targets[i] = r.nextInt(cfg.vocab());
                }
                double want = plain.step(ids, targets, train[s]), got = graphed.step(ids, targets, train[s]);
                if (DEVICE.emulated()) assertEquals(want, got, "loss of step " + s);
                else assertEquals(want, got, 1e-6 * Math.abs(want), "loss of step " + s);
                if (train[s]) {
                    assertEquals(plainOpt.gradNorm(), graphedOpt.gradNorm(), 1e-5 * plainOpt.gradNorm(), "gradient norm of step " + s);
                    plainOpt.step(1e-3);
                    graphedOpt.step(1e-3);
                }
            }
            assertTrue(graphed.usesGraphs(), "the graphed model fell back to kernel-by-kernel steps (see its log line)");
            float[] want = plain.params().toFloatArray(), got = graphed.params().toFloatArray();
            if (DEVICE.emulated()) assertArrayEquals(want, got, "weights after the updates");
            else {
                double gap = KernelsGpuTest.relError(got, KernelsGpuTest.toDouble(want));
                assertTrue(gap <= (precision == DType.F32 ? 1e-6 : 1e-4), "weights after the updates: relative gap " + gap);
            }
        }
    }

    /** Work that waits for the GPU cannot be captured: a clear error, and the stream runs ordinary work afterwards. */
    @Test
    void captureOfWorkThatWaitsFailsClearlyAndLeavesTheStreamUsable() {
        assumeTrue(DEVICE != null && !DEVICE.emulated(), "needs a GPU: the emulator has no stream to capture");
        try (DeviceArena a = DEVICE.arena()) {
            DeviceTensor t = a.alloc(DType.F32, 4);
            t.copyFrom(new float[] {1, 2, 3, 4});
            CudaException e = assertThrows(CudaException.class, () -> DEVICE.capture(t::toFloatArray));
            assertTrue(e.getMessage().contains("could not be captured into a CUDA graph"), e.getMessage());
            t.copyFrom(new float[] {5, 6, 7, 8});
            assertArrayEquals(new float[] {5, 6, 7, 8}, t.toFloatArray());
        }
    }

    /** A replay runs the captured work again: here a device-to-device copy whose source changes between launches. */
    @Test
    void aReplayRepeatsTheCapturedWorkOnTheCurrentValues() {
        assumeTrue(DEVICE != null, TestDevices::why);
        try (DeviceArena a = DEVICE.arena()) {
            DeviceTensor src = a.alloc(DType.F32, 3), dst = a.alloc(DType.F32, 3);
            src.copyFrom(new float[] {1, 2, 3});
            dst.copyFrom(new float[] {0, 0, 0});
            try (CudaGraph g = DEVICE.capture(() -> DEVICE.copy(dst, src, src.bytes()))) {
                assertArrayEquals(new float[] {0, 0, 0}, dst.toFloatArray(), "capturing runs nothing");
                g.launch();
                assertArrayEquals(new float[] {1, 2, 3}, dst.toFloatArray());
                src.copyFrom(new float[] {4, 5, 6});
                g.launch();
                assertArrayEquals(new float[] {4, 5, 6}, dst.toFloatArray());
            }
        }
    }
}
