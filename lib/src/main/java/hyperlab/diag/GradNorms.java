package hyperlab.diag;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.Parameter;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import ai.djl.util.PairList;
import hyperlab.nn.Gpt;
import hyperlab.nn.HyperConnection;
import hyperlab.train.Loss;
import java.util.ArrayList;
import java.util.List;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.LongColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Per-block gradient norms after one backward pass on a batch: where the gradient vanishes or explodes
 * along the depth (the papers' backward-stability story, seen on the weights rather than on H_res).
 */
public final class GradNorms {
    private GradNorms() {}

    /**
     * One row per part of the model (embedding, every attention and MLP block, the final norm): its
     * parameter count and the L2 norm (float64 sum of squares) of the gradient of the mean next-token
     * cross-entropy on (x, y), over all its parameters, its sublayer and its hyper-connection maps.
     * The gradients are zero before and after, so a model mid-training is left as it was.
     */
    public static Table of(Gpt model, NDArray x, NDArray y) {
        List<NDArray> all = new ArrayList<>();
        for (var e : model.getParameters()) all.add(e.getValue().getArray().getGradient());
        zero(all);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray logits = model.forward(new ParameterStore(x.getManager(), false), new NDList(x), true).singletonOrThrow();
            gc.backward(Loss.crossEntropy(logits, y));
        }
        Table t = Table.create("Gradient norms per block: " + model.config().paradigm().key() + ", n = " + model.config().streams(),
                StringColumn.create("block"), LongColumn.create("params"),
                DoubleColumn.create("‖g‖"), DoubleColumn.create("‖g‖ sublayer"), DoubleColumn.create("‖g‖ maps"));
        List<String> directNames = new ArrayList<>(model.getDirectParameters().keys());
        row(t, "embedding", model.getDirectParameters(), new PairList<>());
        List<HyperConnection> blocks = model.blocks();
        for (int b = 0; b < blocks.size(); b++) {
            HyperConnection hc = blocks.get(b);
            row(t, (b % 2 == 0 ? "attn " : "mlp ") + b / 2, hc.getParameters(), hc.getDirectParameters());
        }
        // what is neither the embedding nor a block: the final LayerNorm
        PairList<String, Parameter> rest = new PairList<>();
        List<Parameter> seen = new ArrayList<>();
        for (HyperConnection hc : blocks) hc.getParameters().values().forEach(seen::add);
        for (var e : model.getParameters())
            if (!directNames.contains(e.getKey()) && seen.stream().noneMatch(p -> p == e.getValue())) rest.add(e.getKey(), e.getValue());
        row(t, "ln_f", rest, new PairList<>());
        zero(all);
        return t;
    }

    /** ‖g‖ over every element of the tensors' gradients, squares summed in float64. */
    public static double norm(List<NDArray> grads) {
        double s = 0;
        for (NDArray g : grads) s += g.toType(DataType.FLOAT64, false).square().sum().getDouble();
        return Math.sqrt(s);
    }

    private static void row(Table t, String name, PairList<String, Parameter> params, PairList<String, Parameter> maps) {
        List<NDArray> g = new ArrayList<>(), sub = new ArrayList<>(), m = new ArrayList<>();
        long count = 0;
        for (var e : params) {
            NDArray grad = e.getValue().getArray().getGradient();
            g.add(grad);
            count += e.getValue().getArray().size();
            boolean isMap = maps.values().stream().anyMatch(p -> p == e.getValue());
            (isMap ? m : sub).add(grad);
        }
        t.stringColumn("block").append(name);
        t.longColumn("params").append(count);
        t.doubleColumn("‖g‖").append(norm(g));
        t.doubleColumn("‖g‖ sublayer").append(norm(sub));
        t.doubleColumn("‖g‖ maps").append(norm(m));
    }

    private static void zero(List<NDArray> grads) {
        for (NDArray g : grads) g.set(new NDIndex("..."), 0);
    }
}
