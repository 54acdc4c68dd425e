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

/** nanoGPT's pre-norm sublayer LN → Linear(C, 4C) → exact GELU → Linear(4C, C), as one F. */
public final class Mlp extends ShapePreservingBlock {
    private final LayerNorm norm;
    private final Linear fc;
    private final Linear proj;

    public Mlp(int width, int layers) {
        norm = addChildBlock("ln", LayerNorm.builder().axis(2).build());
        fc = addChildBlock("c_fc", Linear.builder().setUnits(4L * width).build());
        proj = addChildBlock("c_proj", Linear.builder().setUnits(width).build());
        fc.setInitializer(new NormalInitializer(0.02f), Parameter.Type.WEIGHT);
        proj.setInitializer(new NormalInitializer((float) (0.02 / Math.sqrt(2.0 * layers))), Parameter.Type.WEIGHT);
    }

    /** GELU(x) = x Φ(x) = x (1 + erf(x / √2)) / 2, the exact form nanoGPT uses. */
    public static NDArray gelu(NDArray x) {
        return Scalars.mul(x.mul(Scalars.div(x, Math.sqrt(2)).erf().add(1)), 0.5);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray h = norm.forward(ps, inputs, training).singletonOrThrow();
        h = gelu(fc.forward(ps, new NDList(h), training).singletonOrThrow());
        return proj.forward(ps, new NDList(h), training);
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape s = inputShapes[0];
        norm.initialize(manager, dataType, s);
        fc.initialize(manager, dataType, s);
        proj.initialize(manager, dataType, s.slice(0, s.dimension() - 1).add(4 * s.get(s.dimension() - 1)));
    }
}
