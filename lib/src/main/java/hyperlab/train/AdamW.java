package hyperlab.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * AdamW (Loshchilov and Hutter) written out on NDArrays so its float32 moments can be checkpointed:
 * p ← p·(1 − lr·wd) for decayed tensors, then p ← p − lr·m̂/(√v̂ + ε) with bias-corrected moments.
 * Updates are in place, so the model's parameter arrays stay the same objects.
 */
public final class AdamW implements Checkpoint.Slots {
    /** One optimised tensor; {@code decay} is false for norms, biases and hyper-connection scalars. */
    public record Slot(String name, NDArray param, boolean decay) {}

    private final List<Slot> slots;
    private final List<NDArray> m = new ArrayList<>();
    private final List<NDArray> v = new ArrayList<>();
    private final double beta1, beta2, eps, weightDecay;
    private long t;

    public AdamW(List<Slot> slots, NDManager manager, double beta1, double beta2, double eps, double weightDecay) {
        this.slots = List.copyOf(slots);
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.eps = eps;
        this.weightDecay = weightDecay;
        for (Slot s : slots) {
            m.add(manager.zeros(s.param().getShape(), DataType.FLOAT32));
            v.add(manager.zeros(s.param().getShape(), DataType.FLOAT32));
        }
    }

    /**
     * Every parameter of a block; decayed exactly when DJL marks it WEIGHT (Linear weights, embeddings,
     * the maps' projections φ/W), so norms, biases and the maps' α/τ/γ/b are not pulled towards 0.
     */
    public static List<Slot> slotsOf(Block model) {
        List<Slot> out = new ArrayList<>();
        for (var e : model.getParameters())
            out.add(new Slot(e.getKey(), e.getValue().getArray(), e.getValue().getType() == Parameter.Type.WEIGHT));
        return out;
    }

    public List<Slot> slots() { return slots; }

    /** Applies one update with gradients in the order of {@link #slots()}. */
    public void step(List<NDArray> grads, double lr) {
        t++;
        double c1 = 1 - Math.pow(beta1, t), c2 = 1 - Math.pow(beta2, t);
        for (int i = 0; i < slots.size(); i++) {
            NDArray g = grads.get(i);
            // A detached view shares the parameter's storage: in-place updates are legal on it even on a
            // thread where PyTorch's (thread-local) grad mode is on, as on a notebook kernel's cell threads.
            try (NDArray p = slots.get(i).param().stopGradient()) {
                if (slots.get(i).decay() && weightDecay > 0) p.muli(1 - lr * weightDecay);
                m.get(i).muli(beta1).addi(g.mul(1 - beta1));
                v.get(i).muli(beta2).addi(g.square().muli(1 - beta2));
                NDArray denom = v.get(i).div(c2).sqrt().addi(eps);
                p.subi(m.get(i).div(c1).muli(lr).divi(denom));
            }
        }
    }


    @Override
    public int count() { return slots.size(); }

    @Override
    public String name(int i) { return slots.get(i).name(); }

    @Override
    public long[] shape(int i) { return slots.get(i).param().getShape().getShape(); }

    private NDArray tensor(int i, int which) {
        return switch (which) {
            case 0 -> slots.get(i).param();
            case 1 -> m.get(i);
            case 2 -> v.get(i);
            default -> throw new IllegalArgumentException("which = " + which + ": 0 weights, 1 first moment, 2 second moment");
        };
    }

    @Override
    public byte[] read(int i, int which) {
        ByteBuffer b = tensor(i, which).toType(DataType.FLOAT32, false).toByteBuffer();   // native order
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return bytes;
    }

    /** Replaces the tensor's data wholesale (NDArray.set): not an autograd in-place op, so legal in grad mode. */
    @Override
    public void write(int i, int which, byte[] data) {
        tensor(i, which).set(ByteBuffer.allocateDirect(data.length).order(ByteOrder.nativeOrder()).put(data).flip());
    }

    @Override
    public long adamSteps() { return t; }

    @Override
    public void restoreAdamSteps(long steps) { this.t = steps; }
}
