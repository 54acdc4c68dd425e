package hyperlab.gpu;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
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
        writeFirstSteps(out);
        writeCurve(out.resolve("curve"), CURVE_STEPS);
        writeScale(out.resolve("scale"));
    }

    /** The golden-*.bin first-step files of {@link #CASES} (all GoldenGpuTest needs). */
    static void writeFirstSteps(Path out) throws Exception {
        Files.createDirectories(out);
        for (Object[] k : CASES) {
            GptConfig cfg = GptConfig.preset("tiny").paradigm((Paradigm) k[0]).streams((int) k[1]).dynamic((boolean) k[2])
                    .sinkhorn(20, (boolean) k[3]);
            Golden g = make(cfg, 2, 48);
            g.write(out.resolve(fileName(cfg)));
            System.err.printf("golden: %s loss %.6f%n", fileName(cfg), g.loss());
        }
    }

    /** GpuCompare's model and batch (6 layers, width 384, T = 256, batch 32) for 3 steps: SameStartGpuTest checks the GPU against it. */
    static final List<String> SCALE = List.of("paradigm=rc", "layers=6", "width=384", "heads=6", "context=256", "batch=32",
            "steps=3", "log_every=1", "eval_every=3", "eval_batches=2", "checkpoint_every=0");

    /** The CPU engine's losses, gradient norms and validation loss at {@link #SCALE}, from the GPU engine's own init. */
    static void writeScale(Path dir) throws Exception {
        Files.createDirectories(dir);
        Path data = dir.resolve("text.txt");
        Files.writeString(data, sampleText());
        hyperlab.train.TrainConfig cfg = hyperlab.train.TrainConfig.of(SCALE.toArray(String[]::new))
                .with("data", data).with("out", dir.resolve("cpu"));
        SameStart cpu = SameStart.train(cfg);
        deleteTree(dir.resolve("cpu"));
        java.util.Properties p = new java.util.Properties(), r = new java.util.Properties();
        cfg.toMap().forEach((k, v) -> p.setProperty(k, String.valueOf(v)));
        try (var w = Files.newBufferedWriter(dir.resolve("config.properties"))) {
            p.store(w, "GpuCompare's size; data and out are rewritten by SameStartGpuTest");
        }
        cpu.store(r);
        try (var w = Files.newBufferedWriter(dir.resolve("cpu.properties"))) {
            r.store(w, "the CPU engine from the GPU engine's init");
        }
        System.err.println("golden: scale " + cpu);
    }

    private static void deleteTree(Path dir) throws java.io.IOException {
        try (var files = Files.walk(dir)) {
            for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) Files.delete(f);
        }
    }

    /** The first 400,000 characters of the KJV, or a seeded pseudo-text where the corpus is not fetched. */
    static String sampleText() {
        try {
            String text = hyperlab.data.Corpus.defaultText().text();
            return text.substring(0, Math.min(text.length(), 400_000));
        } catch (RuntimeException noCorpus) {
            StringBuilder sb = new StringBuilder();
            Random r = new Random(3);
            while (sb.length() < 200_000) sb.append("the ").append(Integer.toString(r.nextInt(5000), 36)).append(r.nextInt(7) == 0 ? ".\n" : " ");
            return sb.toString();
        }
    }

    static final int CURVE_STEPS = 200;

    /**
     * A CPU loss curve for the GPU machine to track: a seed checkpoint (one step at lr 1e-12, so both engines start
     * from the same weights and optimiser state), the config, the text, and the CPU engine's next {@code steps} losses.
     */
    static void writeCurve(Path dir, int steps) throws Exception {
        Files.createDirectories(dir);
        Path data = dir.resolve("text.txt");
        Files.writeString(data, sampleText());
        hyperlab.train.TrainConfig cfg = hyperlab.train.TrainConfig.of("paradigm=mhc", "streams=4", "batch=8", "log_every=1",
                "eval_every=0", "eval_batches=1", "checkpoint_every=0", "data=" + data, "out=" + dir.resolve("seed"));
        try (var t = new hyperlab.train.Trainer(cfg.steps(1).with("min_lr", "0").with("lr", "1e-12"))) {
            t.run();
        }
        Path cpu = dir.resolve("cpu");
        Files.createDirectories(cpu.resolve("checkpoints"));
        Path seed = hyperlab.train.Checkpoint.list(dir.resolve("seed")).getLast();
        Files.copy(seed, cpu.resolve("checkpoints").resolve(seed.getFileName()));
        hyperlab.train.TrainConfig run = cfg.steps(steps + 1).with("resume", "true").out(cpu);
        java.util.List<Double> losses;
        try (var t = new hyperlab.train.Trainer(run)) {
            losses = t.run().losses();
        }
        Files.write(dir.resolve("cpu-losses.txt"), losses.stream().map(String::valueOf).toList());
        deleteTree(cpu);     // only the losses travel: keep the bundle small
        java.util.Properties p = new java.util.Properties();
        run.toMap().forEach((k, v) -> p.setProperty(k, String.valueOf(v)));
        try (var w = Files.newBufferedWriter(dir.resolve("config.properties"))) {
            p.store(w, "the CPU curve's config; data and out are rewritten by LossCurveGpuTest");
        }
        System.err.printf("golden: curve of %d CPU steps, loss %.4f -> %.4f%n", losses.size(), losses.getFirst(), losses.getLast());
    }

    static Golden make(GptConfig cfg, int batch, int time) {
        try (NDManager m = NDManager.newBaseManager()) {
            Gpt model = Gpt.create(cfg).init(m);
            Random r = new Random(cfg.seed() + 17);
            Set<String> mapNames = MapSpec.of(cfg.paradigm(), cfg.streams(), cfg.width(), cfg.dynamic(), cfg.init(), 0)
                    .stream().map(MapSpec.Param::name).collect(Collectors.toSet());
            // maps away from their (saturated) init, so gradients through σ, Sinkhorn, softmax and Cayley are O(1):
            // projections φ/W ~ N(0, 0.1²) (x'φ then has std ≈ 1), scales α/τ/γ ~ 0.5 + N(0, 0.1²), biases ~ N(0, 0.5²)
            for (var e : model.getParameters()) {
                String name = e.getKey();
                String map = mapNames.stream().filter(s -> name.endsWith("_" + s) && !name.contains("sublayer")).findFirst().orElse(null);
                boolean small = name.endsWith("gamma") || name.endsWith("beta") || name.endsWith("bias");
                if (map == null && !small) continue;
                NDArray a = e.getValue().getArray();
                float[] v = a.toFloatArray();
                for (int i = 0; i < v.length; i++) {
                    if (map == null) v[i] += (float) (r.nextGaussian() * 0.05);
                    else if (map.startsWith("phi") || map.startsWith("w_")) v[i] = (float) (r.nextGaussian() * 0.1);
                    else if (map.startsWith("b_")) v[i] = (float) (r.nextGaussian() * 0.5);
                    else v[i] = (float) (0.5 + r.nextGaussian() * 0.1);
                }
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
            // the same weights in float64, with the loss in float64 too (Loss.crossEntropy works in float32)
            Gpt model64 = Gpt.create(cfg).init(m, DataType.FLOAT64);
            for (var e : model64.getParameters()) {
                NDArray a = e.getValue().getArray();
                a.set(m.create(params.get(e.getKey())).toType(DataType.FLOAT64, false).toByteBuffer());
            }
            NDArray loss64;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray l = model64.forward(new ParameterStore(m, false), new NDList(x), true).singletonOrThrow();
                loss64 = l.logSoftmax(-1).gather(y.toType(DataType.INT64, false).expandDims(-1), -1).mean().neg();
                gc.backward(loss64);
            }
            Map<String, double[]> grads64 = new LinkedHashMap<>();
            for (var e : model64.getParameters()) grads64.put(e.getKey(), e.getValue().getArray().getGradient().toDoubleArray());
            return new Golden(cfg, batch, time, params, grads, grads64, ids, targets, loss.getFloat(), loss64.getDouble(),
                    logits.toFloatArray());
        }
    }
}
