package hyperlab.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import hyperlab.cuda.DType;
import hyperlab.cuda.Gpu;
import hyperlab.nn.GptConfig;
import hyperlab.nn.Paradigm;
import hyperlab.train.TrainConfig;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Recomputing the streams in the backward changes memory, not numbers. */
class RecomputeGpuTest {
    private static final Gpu DEVICE = TestDevices.gpuOrEmulator().orElse(null);

    /**
     * Two training steps with every block's streams kept, and with groups of g: the same numbers, and the memory saved.
     * The emulator runs blocks one after another, so the bits match; a GPU sums some gradients with atomicAdd in
     * whatever order the blocks finish (LayerNorm, bias and embedding gradients), which moves the last bit between any
     * two runs, recomputed or not: there the gradients must agree to 1e-6 relative (norm-wise).
     */
    @ParameterizedTest(name = "{0} n={1}, {2} layers, group {3}, {4}, {5} streams")
    @CsvSource({"rc,1,2,2,F32,F32", "mhc,2,3,4,F32,F32", "hc,2,3,0,F32,F32", "shc,2,2,3,F32,F32", "mhc,2,2,2,BF16,F32",
            "mhc,4,2,2,BF16,BF16"})
    void sameBitsLessMemory(String paradigm, int n, int layers, int group, DType precision, DType streams) {
        assumeTrue(DEVICE != null, TestDevices::why);
        GptConfig cfg = GptConfig.preset("tiny").layers(layers).context(32).paradigm(Paradigm.parse(paradigm)).streams(n);
        int blocks = 2 * layers, g = group == 0 ? GpuGpt.optimalGroup(blocks) : group, batch = 2, time = 32;
        Random r = new Random(5);
        int[][] ids = new int[2][batch * time], targets = new int[2][batch * time];
        for (int s = 0; s < 2; s++)
            for (int i = 0; i < batch * time; i++) {
                ids[s][i] = r.nextInt(cfg.vocab());
                targets[s][i] = r.nextInt(cfg.vocab());
            }
        try (GpuGpt all = new GpuGpt(DEVICE, cfg, batch, time, 1, precision, streams);
             GpuGpt some = new GpuGpt(DEVICE, cfg, batch, time, g, precision, streams)) {
            for (int s = 0; s < 2; s++) {
                assertEquals(all.step(ids[s], targets[s], true), some.step(ids[s], targets[s], true), "loss of step " + s);
                float[] want = all.grads().toFloatArray(), got = some.grads().toFloatArray();
                if (DEVICE.emulated()) assertArrayEquals(want, got, "gradients of step " + s);
                else {
                    double gap = KernelsGpuTest.relError(got, KernelsGpuTest.toDouble(want));
                    assertTrue(gap <= 1e-6, "gradients of step " + s + ": relative gap " + gap);
                }
                all.params().copyFrom(perturbed(all.params().toFloatArray(), s));   // a new point for the next step
                some.params().copyFrom(perturbed(some.params().toFloatArray(), s));
            }
            long streamBytes = (long) streams.bytes() * batch * time * n * cfg.width();
            long kept = (blocks + g - 1) / g + g - 1;
            assertEquals((blocks - kept) * streamBytes, all.deviceBytes() - some.deviceBytes(),
                    "saved: the stream buffers of " + blocks + " blocks minus " + kept + " (kept and shared)");
            System.out.printf("recompute %s n=%d, %d blocks, group %d: %d -> %d device bytes%n", paradigm, n, blocks, g,
                    all.deviceBytes(), some.deviceBytes());
        }
    }

    private static float[] perturbed(float[] p, int seed) {
        Random r = new Random(seed);
        for (int i = 0; i < p.length; i++) p[i] += 0.01f * (float) r.nextGaussian();
        return p;
    }

    @Test
    void optimalGroupHasTheFewestBuffersAndMatchesThePapersLrStar() {
        for (int blocks = 1; blocks <= 96; blocks++) {
            int best = GpuGpt.optimalGroup(blocks);
            int have = (blocks + best - 1) / best + best - 1;
            for (int g = 1; g <= blocks; g++) assertTrue(have <= (blocks + g - 1) / g + g - 1, blocks + " blocks: group " + g + " beats " + best);
        }
        // mHC §4.3.2: L_r* = sqrt(nL/(n+2)); for n = 4 and L = 24 that is 4, the same group here.
        assertEquals(4, GpuGpt.optimalGroup(24));
        assertEquals((int) Math.round(Math.sqrt(4 * 24 / 6.0)), GpuGpt.optimalGroup(24));
    }

    @Test
    void badRecomputeValuesSayWhatIsAllowed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("engine=emulator", "recompute=yes"));
        assertTrue(e.getMessage().contains("off, auto, or g"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("recompute=auto"));
        assertTrue(e.getMessage().contains("engine=cpu"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> GpuGpt.recomputeGroup(TrainConfig.of("engine=emulator", "recompute=9").recompute(), 4));
        assertTrue(e.getMessage().contains("g in [1, 4]"), e.getMessage());
        assertEquals(2, GpuGpt.recomputeGroup(TrainConfig.of("engine=emulator", "recompute=auto").recompute(), 4));
        assertEquals(1, GpuGpt.recomputeGroup("off", 4));
        assertEquals(3, GpuGpt.recomputeGroup("3", 4));
    }
}
