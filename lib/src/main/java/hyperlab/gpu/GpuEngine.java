package hyperlab.gpu;

import ai.djl.ndarray.NDManager;
import hyperlab.cuda.Cuda;
import hyperlab.cuda.CudaException;
import hyperlab.cuda.DType;
import hyperlab.cuda.Gpu;
import hyperlab.data.BatchSampler;
import hyperlab.nn.Gpt;
import hyperlab.train.Checkpoint;
import hyperlab.train.Engine;
import hyperlab.train.TrainConfig;

/** The CUDA engine behind {@code engine=gpu} (or {@code engine=emulator}): {@link GpuGpt} with {@link GpuAdamW}. */
public final class GpuEngine implements Engine {
    private final TrainConfig cfg;
    private final GpuGpt model;
    private final GpuAdamW opt;

    public GpuEngine(TrainConfig cfg, Gpu gpu) {
        this.cfg = cfg;
        this.model = new GpuGpt(gpu, cfg.model(), cfg.batch(), cfg.model().context(),
                GpuGpt.recomputeGroup(cfg.recompute(), 2 * cfg.model().layers()),
                GpuGpt.dtypeOf(cfg.effectivePrecision()), GpuGpt.dtypeOf(cfg.streamPrecision()));
        this.opt = new GpuAdamW(model, cfg.beta1(), cfg.beta2(), 1e-8, cfg.weightDecay(), cfg.gradClip());
    }

    /** GPU 0, or an error that says why there is none and what to use instead. */
    public static Gpu gpu() {
        if (!Cuda.isAvailable())
            throw new CudaException("engine=gpu needs a CUDA GPU, and this machine has none usable: "
                    + Cuda.unavailableReason().orElse("") + ". Use engine=cpu, or engine=emulator to run the GPU engine's"
                    + " kernels on the CPU (slow: tiny models only)");
        return Cuda.gpu();
    }

    public GpuGpt gpt() { return model; }

    @Override
    public Step step(BatchSampler.Batch batch, double lr) {
        double loss = model.step(batch.inputs(), batch.targets(), true);
        double norm = opt.gradNorm();
        boolean skipped = !Double.isFinite(loss) || !Double.isFinite(norm);
        if (!skipped) opt.step(lr);
        return new Step(loss, norm, skipped);          // the next step zeroes the gradients
    }

    @Override
    public double loss(BatchSampler.Batch batch) {
        return model.step(batch.inputs(), batch.targets(), false);
    }

    @Override
    public Checkpoint.Slots slots() { return opt; }

    /** A DJL copy of the current weights (needs DJL's CPU engine); it lives until the JVM ends. */
    @Override
    public Gpt model() {
        Gpt g = Gpt.create(cfg.model()).init(NDManager.newBaseManager());
        for (var e : g.getParameters()) e.getValue().getArray().set(model.param(e.getKey()));
        return g;
    }

    @Override
    public String describe() {
        return "gpu (" + model.gpu().info().name() + ", " + GpuGpt.nameOf(model.precision())
                + (model.streamPrecision() == DType.BF16 ? ", bf16 streams" : "")
                + (model.recomputeGroup() > 1 ? ", recompute group " + model.recomputeGroup() : "") + ")";
    }

    @Override
    public void close() {
        opt.close();
        model.close();
    }
}
