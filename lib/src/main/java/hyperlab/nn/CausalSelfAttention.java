package hyperlab.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;

/** nanoGPT's pre-norm sublayer LN → multi-head causal self-attention → projection, as one F. */
public final class CausalSelfAttention extends ShapePreservingBlock {
    private final int heads;
    private final LayerNorm norm;
    private final Linear qkv;
    private final Linear proj;

    public CausalSelfAttention(int width, int heads, int layers) {
        this.heads = heads;
        norm = addChildBlock("ln", LayerNorm.builder().axis(2).build());
        qkv = addChildBlock("c_attn", Linear.builder().setUnits(3L * width).build());
        proj = addChildBlock("c_proj", Linear.builder().setUnits(width).build());
        qkv.setInitializer(new NormalInitializer(0.02f), Parameter.Type.WEIGHT);
        proj.setInitializer(new NormalInitializer((float) (0.02 / Math.sqrt(2.0 * layers))), Parameter.Type.WEIGHT);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();                              // (B, T, C)
        long b = x.getShape().get(0), t = x.getShape().get(1), c = x.getShape().get(2), d = c / heads;
        NDArray h = norm.forward(ps, new NDList(x), training).singletonOrThrow();
        NDArray all = qkv.forward(ps, new NDList(h), training).singletonOrThrow();   // (B, T, 3C)
        NDList parts = all.split(3, 2);
        NDArray q = heads(parts.get(0), b, t, d), k = heads(parts.get(1), b, t, d), v = heads(parts.get(2), b, t, d);
        NDArray scores = Scalars.div(q.matMul(k.transpose(0, 1, 3, 2)), Math.sqrt(d)).add(causalMask(x.getManager(), t, q.getDataType()));
        NDArray y = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(b, t, c);
        return proj.forward(ps, new NDList(y), training);
    }

    private NDArray heads(NDArray z, long b, long t, long d) {
        return z.reshape(b, t, heads, d).transpose(0, 2, 1, 3);              // (B, h, T, d)
    }


    /** 0 on and below the diagonal, −∞ above: token t attends to tokens ≤ t. */
    private static NDArray causalMask(NDManager manager, long t, DataType dt) {
        float[] m = new float[Math.toIntExact(t * t)];
        for (int i = 0; i < t; i++) for (int j = i + 1; j < t; j++) m[Math.toIntExact(i * t + j)] = Float.NEGATIVE_INFINITY;
        return manager.create(m, new Shape(t, t)).toType(dt, false);
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape s = inputShapes[0];
        norm.initialize(manager, dataType, s);
        qkv.initialize(manager, dataType, s);
        proj.initialize(manager, dataType, s);
    }
}
