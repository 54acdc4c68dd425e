package hyperlab.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import hyperlab.cuda.DType;
import hyperlab.cuda.Gpu;
import hyperlab.nn.GptConfig;
import hyperlab.nn.Paradigm;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * GpuAdamW writes the bf16 copy of the weights the GEMMs read, so a bf16 model's next step skips its cast: that copy is
 * the weights' rounding, a step that skips the cast computes what a step that casts computes, and weights written
 * after the update (a checkpoint) are cast again.
 */
class GpuAdamWTest {
    private static final Gpu DEVICE = TestDevices.gpuOrEmulator().orElse(null);
    private static final GptConfig CFG = GptConfig.preset("tiny").layers(2).context(32).paradigm(Paradigm.MHC).streams(2);
    private static final int BATCH = 2, TIME = 32, TOKENS = BATCH * TIME;

    @Test
    void theUpdateWritesTheWeightsRoundingAndTheNextStepMatchesOneThatCasts() {
        assumeTrue(DEVICE != null, TestDevices::why);
        Random r = new Random(3);
        try (GpuGpt skips = model();
             GpuGpt casts = model();
             GpuAdamW skipsOpt = adamW(skips);
             GpuAdamW castsOpt = adamW(casts)) {
            for (int s = 0; s < 3; s++) {
                int[][] batch = batch(r);
                casts.roundedWeightsWritten(false);                   // the reference casts its weights at every step
                double want = casts.step(batch[0], batch[1], true), got = skips.step(batch[0], batch[1], true);
                assertEquals(want, got, 1e-6 * Math.abs(want), "loss of step " + s);
                skipsOpt.gradNorm();
                castsOpt.gradNorm();
                skipsOpt.step(1e-2);
                castsOpt.step(1e-2);
                float[] weights = skips.params().toFloatArray(), rounded = skips.roundedWeights().toFloatArray();
                for (int i = 0; i < weights.length; i++)
                    assertEquals(DType.bf16ToFloat(DType.floatToBf16(weights[i])), rounded[i], "bf16 copy of weight " + i + " after update " + s);
            }
            assertArrayEquals(casts.params().toFloatArray(), skips.params().toFloatArray(), 1e-6f, "weights after three updates");
        }
    }

    @Test
    void weightsWrittenAfterTheUpdateAreCastAgain() {
        assumeTrue(DEVICE != null, TestDevices::why);
        Random r = new Random(4);
        try (GpuGpt model = model();
             GpuGpt fresh = model();
             GpuAdamW opt = adamW(model)) {
            int[][] batch = batch(r);
            model.step(batch[0], batch[1], true);
            opt.gradNorm();
            opt.step(1e-2);
            int wte = 0;                                  // the embedding (and output head): what a checkpoint restores
            assertEquals("wte", opt.name(wte));
            byte[] restored = new byte[Math.toIntExact(4 * model.layout().get("wte").size())];
            new Random(5).nextBytes(restored);            // random bytes, read as float32: any finite values will do
            for (int i = 0; i < restored.length; i += 4) restored[i + 3] = (byte) (restored[i + 3] & 0x3c);
            float[] stale = model.roundedWeights().toFloatArray();   // the update's copy, which the restore outdates
            opt.write(wte, 0, restored);
            fresh.params().copyFrom(model.params().toFloatArray());
            double want = fresh.step(batch[0], batch[1], false), got = model.step(batch[0], batch[1], false);
            assertEquals(want, got, 1e-6 * Math.abs(want), "the step after a checkpoint's weights reads those weights");
            model.roundedWeights().copyFrom(stale);      // what a step that skipped the cast would have read
            model.roundedWeightsWritten(true);
            assertNotEquals(want, model.step(batch[0], batch[1], false), "the test must tell stale weights from restored ones");
        }
    }

    /** A bf16 mHC model (fp32 streams): its GEMMs read the bf16 copy. */
    private static GpuGpt model() {
        return new GpuGpt(DEVICE, CFG, BATCH, TIME, 1, DType.BF16, DType.F32);
    }

    private static GpuAdamW adamW(GpuGpt model) {
        return new GpuAdamW(model, 0.9, 0.95, 1e-8, 0.1, 1.0);
    }

    private static int[][] batch(Random r) {
        int[] ids = new int[TOKENS], targets = new int[TOKENS];
        for (int i = 0; i < TOKENS; i++) {
            ids[i] = r.nextInt(CFG.vocab());
            targets[i] = r.nextInt(CFG.vocab());
        }
        return new int[][] {ids, targets};
    }
}
