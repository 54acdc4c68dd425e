package hyperlab.gpu;

import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.train.Checkpoint;

/**
 * AdamW over the model's one weight buffer with float32 moments on the device: the global gradient norm, then the
 * update with clipping folded in (two launches: the decayed tensors, which come first, and the rest). The same
 * maths as {@link hyperlab.train.AdamW}, so checkpoints hold the same state. The update also writes the bf16 copy
 * the model's GEMMs read, so a bf16 model's next step skips its cast pass over the weights.
 */
public final class GpuAdamW implements Checkpoint.Slots, AutoCloseable {
    private final GpuGpt model;
    private final Kernels k;
    private final DeviceArena arena;
    private final DeviceTensor m, v, norm, partial;
    private final double beta1, beta2, eps, weightDecay, maxNorm;
    private long t;

    public GpuAdamW(GpuGpt model, double beta1, double beta2, double eps, double weightDecay, double maxNorm) {
        this.model = model;
        this.k = model.kernels();
        this.arena = model.gpu().arena();
        long total = model.layout().total();
        this.m = arena.zeros(DType.F32, total);
        this.v = arena.zeros(DType.F32, total);
        this.norm = arena.zeros(DType.F32, 1);
        this.partial = arena.alloc(DType.F32, Kernels.NORM_PARTS);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        this.maxNorm = maxNorm;
    }

    /** ‖grads‖₂ of the last backward (also kept on the device for the clipped update). */
    public double gradNorm() {
        k.norm(norm, partial, model.grads(), model.layout().total());
        return norm.toFloatArray()[0];
    }

    /** One update at {@code lr} from the gradients whose norm {@link #gradNorm()} just measured. */
    public void step(double lr) {
        t++;
        float c1 = (float) (1 - Math.pow(beta1, t)), c2 = (float) (1 - Math.pow(beta2, t));
        long decayed = model.layout().decayed(), rest = model.layout().total() - decayed;
        DeviceTensor p = model.params(), g = model.grads(), lo = model.roundedWeights();   // lo: the GEMMs' bf16 copy, or null
        k.adamw(p, lo, g, m, v, decayed, (float) lr, (float) beta1, (float) beta2, c1, c2, (float) eps, (float) weightDecay,
                norm, (float) maxNorm);
        if (rest > 0)
            k.adamw(p.view(decayed, rest), lo == null ? null : lo.view(decayed, rest), g.view(decayed, rest), m.view(decayed, rest),
                    v.view(decayed, rest), rest, (float) lr, (float) beta1, (float) beta2, c1, c2, (float) eps, 0f, norm, (float) maxNorm);
        model.roundedWeightsWritten(true);
    }

    private ParamLayout.Entry entry(int i) {
        return model.layout().entries().get(i);
    }

    private DeviceTensor tensor(int i, int which) {
        ParamLayout.Entry e = entry(i);
        DeviceTensor buffer = switch (which) {
            case 0 -> model.params();
            case 1 -> m;
            case 2 -> v;
            default -> throw new IllegalArgumentException("which = " + which + ": 0 weights, 1 first moment, 2 second moment");
        };
        return buffer.view(e.offset(), e.size());
    }

    @Override
    public int count() { return model.layout().entries().size(); }

    @Override
    public String name(int i) { return entry(i).name(); }

    @Override
    public long[] shape(int i) { return entry(i).shape(); }

    @Override
    public byte[] read(int i, int which) { return tensor(i, which).toByteArray(); }    // float32, little-endian = x86/arm order

    @Override
    public void write(int i, int which, byte[] data) {
        tensor(i, which).copyFromBytes(data);
        if (which == 0) model.roundedWeightsWritten(false);      // new weights: the next step casts them
    }

    @Override
    public long adamSteps() { return t; }

    @Override
    public void restoreAdamSteps(long steps) { this.t = steps; }

    @Override
    public void close() { arena.close(); }
}
