package hyperlab.gpu;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import ai.djl.training.ParameterStore;
import hyperlab.nn.Gpt;
import hyperlab.nn.GptConfig;
import hyperlab.nn.MapSpec;
import hyperlab.nn.Paradigm;
import hyperlab.train.Loss;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Makes the first-step golden files with the DJL CPU engine (float32): every paradigm on a tiny GPT whose map
 * parameters, norms and biases are perturbed away from their init, so every path carries a non-trivial gradient.
 * Usage: GoldenWriter OUT_DIR
 */
public final class GoldenWriter {
    /** The cases: paradigm, streams, dynamic maps, log-domain Sinkhorn. */
    static final List<Object[]> CASES = List.of(
            new Object[] {Paradigm.RC, 1, true, false},
            new Object[] {Paradigm.HC, 4, true, false},
            new Object[] {Paradigm.HC, 2, false, false},
            new Object[] {Paradigm.MHC, 4, true, false},
            new Object[] {Paradigm.MHC, 3, true, true},
            new Object[] {Paradigm.MHC_LITE, 4, true, false},
            new Object[] {Paradigm.SHC, 4, true, false},
            new Object[] {Paradigm.SHC, 2, true, false});

    private GoldenWriter() {
    }

    static String fileName(GptConfig c) {
        return String.format("golden-%s-n%d%s%s.bin", c.paradigm().key(), c.streams(), c.dynamic() ? "" : "-static",
                c.sinkhornLogDomain() ? "-log" : "");
    }

    public static void main(String[] args) throws Exception {
        Path out = Path.of(args.length > 0 ? args[0] : "target/golden");
        Files.createDirectories(out);
        for (Object[] k : CASES) {
            GptConfig cfg = GptConfig.preset("tiny").paradigm((Paradigm) k[0]).streams((int) k[1]).dynamic((boolean) k[2])
                    .sinkhorn(20, (boolean) k[3]);
            Golden g = make(cfg, 2, 48);
            g.write(out.resolve(fileName(cfg)));
            System.err.printf("golden: %s loss %.6f%n", fileName(cfg), g.loss());
        }
    }

    static Golden make(GptConfig cfg, int batch, int time) {
        try (NDManager m = NDManager.newBaseManager()) {
            Gpt model = Gpt.create(cfg).init(m);
            Random r = new Random(cfg.seed() + 17);
            Set<String> mapNames = MapSpec.of(cfg.paradigm(), cfg.streams(), cfg.width(), cfg.dynamic(), cfg.init(), 0)
                    .stream().map(MapSpec.Param::name).collect(Collectors.toSet());
            for (var e : model.getParameters()) {
                String name = e.getKey();
                boolean map = mapNames.stream().anyMatch(s -> name.endsWith("_" + s) && !name.contains("sublayer"));
                boolean small = name.endsWith("gamma") || name.endsWith("beta") || name.endsWith("bias");
                if (!map && !small) continue;
                NDArray a = e.getValue().getArray();
                float[] v = a.toFloatArray();
                double std = map ? 0.3 : 0.05;
                for (int i = 0; i < v.length; i++) v[i] += (float) (r.nextGaussian() * std);
                a.set(v);
            }
            int tokens = batch * time;
            int[] ids = new int[tokens], targets = new int[tokens];
            for (int i = 0; i < tokens; i++) {
                ids[i] = r.nextInt(cfg.vocab());
                targets[i] = r.nextInt(cfg.vocab());
            }
            NDArray x = m.create(ids, new Shape(batch, time)), y = m.create(targets, new Shape(batch, time));
            NDArray logits, loss;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                logits = model.forward(new ParameterStore(m, false), new NDList(x), true).singletonOrThrow();
                loss = Loss.crossEntropy(logits, y);
                gc.backward(loss);
            }
            Map<String, float[]> params = new LinkedHashMap<>(), grads = new LinkedHashMap<>();
            for (var e : model.getParameters()) {
                params.put(e.getKey(), e.getValue().getArray().toFloatArray());
                grads.put(e.getKey(), e.getValue().getArray().getGradient().toFloatArray());
            }
            return new Golden(cfg, batch, time, params, grads, ids, targets, loss.getFloat(), logits.toFloatArray());
        }
    }
}
