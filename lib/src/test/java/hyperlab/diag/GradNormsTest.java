package hyperlab.diag;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import hyperlab.nn.Gpt;
import hyperlab.nn.GptConfig;
import hyperlab.nn.ParameterCounts;
import hyperlab.nn.Paradigm;
import hyperlab.train.Loss;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tech.tablesaw.api.Table;

class GradNormsTest {
    @Test
    void perBlockNormsMatchAFloat64SumOfSquaresGroupedByParameterName() {
        for (Paradigm p : new Paradigm[] {Paradigm.RC, Paradigm.MHC}) {
            try (NDManager m = NDManager.newBaseManager()) {
                Gpt model = Gpt.create(GptConfig.preset("tiny").context(8).paradigm(p)).init(m);
                NDArray x = m.create(new int[] {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}).reshape(2, 6);
                NDArray y = m.create(new int[] {1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9}).reshape(2, 6);
                // reference: our own backward, gradients copied out and summed in float64, grouped by the names' block prefix
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    gc.backward(Loss.crossEntropy(model.forward(new ParameterStore(m, false), new NDList(x), true).singletonOrThrow(), y));
                }
                Map<String, double[]> ref = new LinkedHashMap<>();   // group -> {sum of squares, count}
                for (var e : model.getParameters()) {
                    String k = e.getKey();
                    String group = k.contains("h0_attn") ? "attn 0" : k.contains("h0_mlp") ? "mlp 0" : k.contains("h1_attn") ? "attn 1"
                            : k.contains("h1_mlp") ? "mlp 1" : k.contains("ln_f") ? "ln_f" : "embedding";
                    NDArray g = e.getValue().getArray().getGradient();
                    double s = 0;
                    for (float v : g.toFloatArray()) s += (double) v * v;
                    double[] acc = ref.computeIfAbsent(group, z -> new double[2]);
                    acc[0] += s;
                    acc[1] += g.size();
                    g.set(new NDIndex("..."), 0);
                }
                Table t = GradNorms.of(model, x, y);
                System.out.println(t.printAll());
                assertEquals(6, t.rowCount());
                long params = 0;
                for (int r = 0; r < t.rowCount(); r++) {
                    double[] want = ref.get(t.stringColumn("block").get(r));
                    double got = t.doubleColumn("‖g‖").get(r);
                    assertEquals(Math.sqrt(want[0]), got, 1e-5 * Math.sqrt(want[0]) + 1e-12, p + " " + t.stringColumn("block").get(r));
                    assertEquals((long) want[1], t.longColumn("params").get(r));
                    double sub = t.doubleColumn("‖g‖ sublayer").get(r), maps = t.doubleColumn("‖g‖ maps").get(r);
                    assertEquals(got * got, sub * sub + maps * maps, 1e-9 * got * got + 1e-15, "sublayer and maps split the block");
                    if (p == Paradigm.RC) assertEquals(0, maps, "rc has no maps");
                    params += t.longColumn("params").get(r);
                }
                assertEquals(ParameterCounts.total(model.config()), params, "every parameter is in one row");
                if (p == Paradigm.MHC) assertEquals(true, t.doubleColumn("‖g‖ maps").get(1) > 0, "mHC maps get a gradient");
                for (var e : model.getParameters())
                    assertEquals(0, e.getValue().getArray().getGradient().abs().sum().getFloat(), "gradients are left at zero");
            }
        }
    }
}
