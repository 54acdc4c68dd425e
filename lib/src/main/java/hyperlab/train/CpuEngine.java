package hyperlab.train;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import hyperlab.data.BatchSampler;
import hyperlab.nn.Gpt;
import java.util.List;

/** The teaching engine: the DJL/PyTorch model on the CPU with {@link AdamW} written out on NDArrays. */
public final class CpuEngine implements hyperlab.train.Engine {
    private final NDManager manager = NDManager.newBaseManager();
    private final Gpt model;
    private final AdamW opt;
    private final double gradClip;

    public CpuEngine(TrainConfig cfg) {
        this.model = Gpt.create(cfg.model()).init(manager);
        this.opt = new AdamW(AdamW.slotsOf(model), manager, cfg.beta1(), cfg.beta2(), 1e-8, cfg.weightDecay());
        this.gradClip = cfg.gradClip();
    }

    @Override
    public Step step(BatchSampler.Batch batch, double lr) {
        try (NDScope scope = new NDScope()) {       // frees every array the step made, so memory stays flat
            scope.suppressNotUsedWarning();
            NDList b = batch.toNd(manager);
            NDArray loss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray logits = model.forward(new ParameterStore(manager, false), new NDList(b.get(0)), true).singletonOrThrow();
                loss = Loss.crossEntropy(logits, b.get(1));
                gc.backward(loss);
            }
            double value = loss.getFloat();
            List<NDArray> grads = opt.slots().stream().map(x -> x.param().getGradient()).toList();
            double norm = Gradients.globalNorm(grads);
            boolean skipped = !Double.isFinite(value) || !Double.isFinite(norm);
            if (!skipped) {
                Gradients.clip(grads, norm, gradClip);
                opt.step(grads, lr);
            }
            Gradients.zero(grads);
            return new Step(value, norm, skipped);
        }
    }

    @Override
    public double loss(BatchSampler.Batch batch) {
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDList b = batch.toNd(manager);
            NDArray logits = model.forward(new ParameterStore(manager, false), new NDList(b.get(0)), false).singletonOrThrow();
            return Loss.crossEntropy(logits, b.get(1)).getFloat();
        }
    }

    @Override
    public Checkpoint.Slots slots() { return opt; }

    @Override
    public Gpt model() { return model; }

    @Override
    public String describe() { return "cpu (DJL " + Engine.getDjlVersion() + ", " + Engine.getInstance().getEngineName() + ")"; }

    @Override
    public void close() { manager.close(); }
}
