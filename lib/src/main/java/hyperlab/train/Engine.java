package hyperlab.train;

import hyperlab.data.BatchSampler;
import hyperlab.nn.Gpt;

/**
 * What the training loop needs from a model with its optimiser, so one {@link Trainer} drives the DJL CPU engine
 * ({@link CpuEngine}) and the CUDA engine ({@code hyperlab.gpu.GpuEngine}) alike: same schedule, data, metrics and
 * checkpoints (which therefore move between engines).
 */
public interface Engine extends AutoCloseable {
    /** One step's outcome; skipped when the loss or the gradient norm was NaN/Inf and the update was dropped. */
    record Step(double loss, double norm, boolean skipped) {}

    /** Forward, backward, global gradient norm; if all finite, clip and AdamW at {@code lr}. Gradients are reset either way. */
    Step step(BatchSampler.Batch batch, double lr);

    /** Mean loss of one batch, without gradients. */
    double loss(BatchSampler.Batch batch);

    /** Weights and optimiser state, for checkpoints. */
    Checkpoint.Slots slots();

    /** The model as a DJL block for sampling and diagnostics (the GPU engine copies its weights into a new one). */
    Gpt model();

    /** Where it runs, for logs (e.g. "cpu (DJL 0.35.1)", "gpu (NVIDIA H100 80GB HBM3)"). */
    String describe();

    @Override
    void close();
}
