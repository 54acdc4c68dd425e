package hyperlab.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One residual connection around a sublayer F, for any paradigm: streams x (B, T, n, C) become
 * H_res x + H_post^T F(H_pre x); for RC (n = 1) simply x + F(x). Wraps any DJL {@link Block}.
 */
public final class HyperConnection extends ShapePreservingBlock {
    private final Paradigm paradigm;
    private final int streams;
    private final boolean dynamic;
    private final int sinkhornIterations;
    private final boolean logDomain;
    private final Block sublayer;
    private final Map<String, Parameter> maps = new LinkedHashMap<>();

    /**
     * @param blockIndex position of this sublayer in the network (picks the stream H_pre favours at init)
     */
    public HyperConnection(Block sublayer, Paradigm paradigm, int streams, int width, boolean dynamic,
                           int sinkhornIterations, boolean logDomain, MapInit init, int blockIndex) {
        if (streams < 1) throw new IllegalArgumentException("streams = " + streams + ": at least 1 is required");
        if (paradigm == Paradigm.RC && streams != 1)
            throw new IllegalArgumentException("streams = " + streams + " with paradigm rc: the plain residual has 1 stream");
        this.paradigm = paradigm;
        this.streams = streams;
        this.dynamic = dynamic;
        this.sinkhornIterations = sinkhornIterations;
        this.logDomain = logDomain;
        this.sublayer = addChildBlock("sublayer", sublayer);
        for (MapSpec.Param p : MapSpec.of(paradigm, streams, width, dynamic, init, blockIndex)) {
            double[] v = p.init();
            maps.put(p.name(), addParameter(Parameter.builder()
                    .setName(p.name())
                    .setType(p.decay() ? Parameter.Type.WEIGHT : Parameter.Type.OTHER)
                    .optShape(new Shape(p.shape()))
                    .optInitializer((m, s, dt) -> m.create(v).reshape(s).toType(dt, false))
                    .build()));
        }
    }

    public Paradigm paradigm() { return paradigm; }

    public int streams() { return streams; }

    /** The current values of this block's map parameters, by paper name. */
    public Map<String, NDArray> mapWeights(ParameterStore ps, NDArray like, boolean training) {
        Map<String, NDArray> w = new LinkedHashMap<>();
        maps.forEach((k, p) -> w.put(k, ps.getValue(p, like.getDevice(), training)));
        return w;
    }

    /** H_pre, H_post, H_res for the streams x (B, T, n, C); not defined for RC. */
    public ResidualMaps.Maps maps(ParameterStore ps, NDArray x, boolean training) {
        return ResidualMaps.compute(paradigm, streams, dynamic, sinkhornIterations, logDomain, mapWeights(ps, x, training), x);
    }

    @Override
    protected NDList forwardInternal(ParameterStore ps, NDList inputs, boolean training, PairList<String, Object> params) {
        NDArray x = inputs.singletonOrThrow();
        if (paradigm == Paradigm.RC) {
            NDArray h = x.squeeze(-2);
            NDArray f = sublayer.forward(ps, new NDList(h), training, params).singletonOrThrow();
            return new NDList(h.add(f).expandDims(-2));
        }
        ResidualMaps.Maps m = maps(ps, x, training);
        NDArray f = sublayer.forward(ps, new NDList(ResidualMaps.aggregate(m.pre(), x)), training, params).singletonOrThrow();
        return new NDList(ResidualMaps.merge(m, x, f));
    }

    @Override
    protected void initializeChildBlocks(NDManager manager, DataType dataType, Shape... inputShapes) {
        Shape s = inputShapes[0];
        if (s.dimension() < 2 || s.get(s.dimension() - 2) != streams)
            throw new IllegalArgumentException("input shape " + s + ": (..., n = " + streams + ", C) is required");
        sublayer.initialize(manager, dataType, s.slice(0, s.dimension() - 2).add(s.get(s.dimension() - 1)));
    }
}
