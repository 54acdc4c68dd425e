package hyperlab.nn;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.AbstractBlock;
import ai.djl.nn.Parameter;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.training.ParameterStore;
import ai.djl.training.initializer.NormalInitializer;
import ai.djl.util.PairList;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * nanoGPT (pre-norm, causal self-attention, GELU MLP, tied embeddings) in which every attention and
 * MLP sublayer sits in one {@link HyperConnection}: token ids (B, T) → logits (B, T, vocab).
 * The embedding is copied into n streams, and the streams are averaged before the final norm.
 */
public final class Gpt extends AbstractBlock {
    private final GptConfig config;
    private final Parameter wte;
    private final Parameter wpe;
    private final List<HyperConnection> blocks = new ArrayList<>();
    private final LayerNorm lnF;

    private Gpt(GptConfig config) {
        this.config = config;
        wte = addParameter(Parameter.builder().setName("wte").setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(config.vocab(), config.width())).optInitializer(new NormalInitializer(0.02f)).build());
        wpe = addParameter(Parameter.builder().setName("wpe").setType(Parameter.Type.WEIGHT)
                .optShape(new Shape(config.context(), config.width())).optInitializer(new NormalInitializer(0.02f)).build());
        for (int l = 0; l < config.layers(); l++) {
            blocks.add(addChildBlock("h" + l + "_attn", connect(new CausalSelfAttention(config.width(), config.heads(), config.layers()), 2 * l)));
            blocks.add(addChildBlock("h" + l + "_mlp", connect(new Mlp(config.width(), config.layers()), 2 * l + 1)));
        }
        lnF = addChildBlock("ln_f", LayerNorm.builder().axis(2).build());
    }

    private HyperConnection connect(AbstractBlock f, int index) {
        return new HyperConnection(f, config.paradigm(), config.streams(), config.width(), config.dynamic(),
                config.sinkhornIterations(), config.sinkhornLogDomain(), config.init(), index);
    }

    /** An uninitialised model; call {@link #init(NDManager)} before use. */
    public static Gpt create(GptConfig config) {
        return new Gpt(config);
    }

    /** Initialises the weights in float32 from the config's seed. */
    public Gpt init(NDManager manager) {
        return init(manager, DataType.FLOAT32);
    }

    /** Initialises the weights in the given precision (FLOAT64 for reference checks) from the config's seed. */
    public Gpt init(NDManager manager, DataType dataType) {
        Engine.getInstance().setRandomSeed((int) config.seed());
        initialize(manager, dataType, new Shape(1, config.context()));
        return this;
    }

    public GptConfig config() { return config; }

    /** The hyper-connection blocks in order: attention of layer 0, MLP of layer 0, attention of layer 1, ... */
    public List<HyperConnection> blocks() { return Collections.unmodifiableList(blocks); }

    /** Logits for token ids (B, T) in inference mode. */
    public NDArray logits(NDArray ids) {
        return forward(new ParameterStore(ids.getManager(), false), new NDList(ids), false).singletonOrThrow();
    }

    /** The streams entering each block (and the final one): for stability diagnostics. */
    public List<NDArray> streams(ParameterStore ps, NDArray ids) {
        List<NDArray> out = new ArrayList<>();
        NDArray x = embed(ps, ids, false);
        out.add(x);
        for (HyperConnection b : blocks) {
            x = b.forward(ps, new NDList(x), false).singletonOrThrow();
            out.add(x);
        }
        return out;
    }

    /** Copies every parameter that has the same path and shape in {@code from} (e.g. an RC model's weights). */
    public int copyWeightsFrom(Gpt from) {
        PairList<String, Parameter> src = from.getParameters();
        int copied = 0;
        for (var e : getParameters()) {
            Parameter s = src.get(e.getKey());
            if (s != null && s.getArray().getShape().equals(e.getValue().getArray().getShape())) {
                e.getValue().getArray().set(s.getArray().toType(e.getValue().getArray().getDataType(), false).toByteBuffer());
                copied++;
            }
        }
        return copied;
    }

    private NDArray embed(ParameterStore ps, NDArray ids, boolean training) {
        Shape s = ids.getShape();
        if (s.dimension() != 2)
            throw new IllegalArgumentException("token ids have shape " + s + ": (batch, time) is required");
        long t = s.get(1);
        if (t > config.context())
            throw new IllegalArgumentException("sequence length " + t + " exceeds context = " + config.context() + ": crop the input or raise context");
        NDArray flat = ids.toType(DataType.INT64, false).flatten();
        long min = flat.min().getLong(), max = flat.max().getLong();
        if (min < 0 || max >= config.vocab())
            throw new IllegalArgumentException("token ids range over [" + min + ", " + max + "]: each must be in [0, vocab = " + config.vocab() + ")");
        NDArray tok = ps.getValue(wte, ids.getDevice(), training).get(flat).reshape(s.get(0), t, config.width());
        NDArray pos = ps.getValue(wpe, ids.getDevice(), training).get(new NDIndex("0:{}", t));
        NDArray x = tok.add(pos).expandDims(-2);                                 // (B, T, 1, C)
        return config.streams() == 1 ? x : x.repeat(2, config.streams());       // stream expand: n copies
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = embed(ps, inputs.singletonOrThrow(), training);
        for (HyperConnection b : blocks) x = b.forward(ps, new NDList(x), training, params).singletonOrThrow();
        NDArray h = lnF.forward(ps, new NDList(x.mean(new int[] {-2})), training).singletonOrThrow();   // stream reduce: mean
        return new NDList(h.matMul(ps.getValue(wte, h.getDevice(), training).transpose()));           // tied lm head
    }

    @Override
    public Shape[] getOutputShapes(Shape[] inputShapes) {
        Shape s = inputShapes[0];
        return new Shape[] {new Shape(s.get(0), s.get(1), config.vocab())};
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape s = inputShapes[0];
        Shape streams = new Shape(s.get(0), s.get(1), config.streams(), config.width());
        for (HyperConnection b : blocks) b.initialize(manager, dataType, streams);
        lnF.initialize(manager, dataType, new Shape(s.get(0), s.get(1), config.width()));
    }
}
