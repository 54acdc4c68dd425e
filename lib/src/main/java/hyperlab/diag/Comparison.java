package hyperlab.diag;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import hyperlab.data.BatchSampler;
import hyperlab.data.Corpus;
import hyperlab.data.Split;
import hyperlab.data.TokenFile;
import hyperlab.data.Tokenizer;
import hyperlab.data.Unigram;
import hyperlab.nn.Gpt;
import hyperlab.nn.Paradigm;
import hyperlab.nn.ParameterCounts;
import hyperlab.train.Run;
import hyperlab.train.TrainConfig;
import hyperlab.train.Trainer;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.LongColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * Trains every paradigm on the same tokens, seed and recipe, then measures each trained model (losses,
 * composite gains, stream similarity, throughput), so the paradigms are compared on equal terms in one
 * table (the CLI's {@code compare}, which writes data/results/cpu-tiny.csv and data/bench/cpu.json).
 */
public final class Comparison {
    /** Steps at the end whose training losses are averaged into "train loss" (one batch's loss is noisy). */
    public static final int TAIL = 50;

    private final TrainConfig base;
    private final Path root;
    private final Path bin;
    private final int vocab;
    private Consumer<String> log = s -> {};

    /** Tokenizes the base config's data once into ROOT/tokens-NAME.bin (a .bin data file is used as is). */
    public Comparison(TrainConfig base, Path root) {
        this.base = base;
        this.root = root;
        this.vocab = base.model().vocab();
        try {
            Files.createDirectories(root);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot create " + root + ": " + e, e);
        }
        if (base.data().endsWith(".bin")) bin = Path.of(base.data());
        else {
            Tokenizer tok = Tokenizer.of(base.tokenizer());
            bin = root.resolve("tokens-" + tok.name() + ".bin");
            Corpus.of(base.data()).tokenize(tok, bin).close();
        }
    }

    public Comparison log(Consumer<String> log) {
        this.log = log;
        return this;
    }

    /** The unigram entropy of the whole token file and the unigram cross-entropy train → val, in nats. */
    public double[] unigram() {
        try (TokenFile t = TokenFile.open(bin)) {
            Split all = new Split(t, 0, t.length());
            return new double[] {Unigram.entropyNats(all, vocab),
                    Unigram.crossEntropyNats(Split.train(t, Trainer.VAL_FRACTION), Split.val(t, Trainer.VAL_FRACTION), vocab)};
        }
    }

    /** The config of one paradigm's run: the base with this paradigm (rc: 1 stream, else the base's or 4) and its own out folder. */
    public TrainConfig configFor(Paradigm p, String tag) {
        return base.with(List.of("paradigm=" + p.key(), "streams=" + (p == Paradigm.RC ? 1 : base.streams()), "data=" + bin,
                "out=" + root.resolve(tag + p.key())));
    }

    /** One trained paradigm's numbers (a row of the table) and, for hyper-connections, its per-block gains. */
    public record Result(String paradigm, int streams, int steps, double firstLoss, double trainLoss, double valLoss,
                         double compositeFwd, double compositeBwd, double compositeSumErr, double maxLayerFwd, double streamCos,
                         long params, double seconds, double tokensPerS, Table gains) {}

    /** Trains the paradigm to the base's steps and measures it on a fixed validation batch. */
    public Result train(Paradigm p) {
        TrainConfig cfg = configFor(p, "");
        log.accept("training " + p.key() + ": " + cfg.model());
        try (Trainer tr = new Trainer(cfg, TokenFile.open(bin)); NDManager nd = NDManager.newBaseManager(); TokenFile t = TokenFile.open(bin)) {
            Run run = tr.run();
            Gpt model = run.model();
            List<Double> l = run.losses();
            double tail = l.subList(Math.max(0, l.size() - TAIL), l.size()).stream().mapToDouble(Double::doubleValue).average().orElse(Double.NaN);
            // a fixed batch of real validation tokens, the same for every paradigm
            NDArray ids = new BatchSampler(Split.val(t, Trainer.VAL_FRACTION), cfg.batch(), model.config().context(), cfg.seed() + 2)
                    .next().toNd(nd).get(0);
            double cf = 1, cb = 1, se = 0, lf = 1, cos = Double.NaN;
            Table g = null;
            if (p != Paradigm.RC) {
                g = Gains.of(model, ids);
                cf = g.doubleColumn("composite fwd").get(g.rowCount() - 1);
                cb = g.doubleColumn("composite bwd").get(g.rowCount() - 1);
                se = g.doubleColumn("composite Σ err").get(g.rowCount() - 1);
                lf = g.doubleColumn("gain fwd").max();
                Table s = StreamSimilarity.of(model, ids);
                cos = s.doubleColumn("mean cos").get(s.rowCount() - 1);
            }
            Result r = new Result(p.key(), model.config().streams(), cfg.steps(), l.getFirst(), tail, run.valLoss(), cf, cb, se, lf, cos,
                    ParameterCounts.total(model.config()), run.seconds(), run.tokensPerSecond(), g);
            log.accept(String.format(Locale.ROOT, "%s: train %.4f, val %.4f, composite gain fwd %.4f bwd %.4f, %.0f tokens/s, %.1f s",
                    p.key(), tail, r.valLoss(), cf, cb, r.tokensPerS(), r.seconds()));
            return r;
        }
    }

    /** The results as one table; the unigram numbers repeat on each row so the CSV stands alone. */
    public static Table table(List<Result> rs, double[] unigram) {
        Table t = Table.create("paradigms on the same data",
                StringColumn.create("paradigm"), IntColumn.create("streams"), IntColumn.create("steps"),
                DoubleColumn.create("first_loss"), DoubleColumn.create("train_loss"), DoubleColumn.create("val_loss"),
                DoubleColumn.create("unigram_entropy"), DoubleColumn.create("unigram_val_ce"),
                DoubleColumn.create("composite_gain_fwd"), DoubleColumn.create("composite_gain_bwd"),
                DoubleColumn.create("composite_sum_err"), DoubleColumn.create("max_layer_gain_fwd"),
                DoubleColumn.create("stream_cos"), LongColumn.create("params"), DoubleColumn.create("wall_s"), DoubleColumn.create("tokens_per_s"));
        for (Result r : rs) {
            t.stringColumn("paradigm").append(r.paradigm());
            t.intColumn("streams").append(r.streams());
            t.intColumn("steps").append(r.steps());
            double[] d = {r.firstLoss(), r.trainLoss(), r.valLoss(), unigram[0], unigram[1], r.compositeFwd(), r.compositeBwd(),
                    r.compositeSumErr(), r.maxLayerFwd(), r.streamCos()};
            for (int i = 0; i < d.length; i++) t.doubleColumn(3 + i).append(i == 7 ? d[i] : round(d[i], 6));
            t.longColumn("params").append(r.params());
            t.doubleColumn("wall_s").append(round(r.seconds(), 1));
            t.doubleColumn("tokens_per_s").append(round(r.tokensPerS(), 0));
        }
        return t;
    }

    /** Every hyper-connection model's per-block gains in one table, a "paradigm" column in front. */
    public static Table gains(List<Result> rs) {
        Table all = null;
        for (Result r : rs) {
            if (r.gains() == null) continue;
            Table g = r.gains().copy();
            StringColumn name = StringColumn.create("paradigm");
            for (int i = 0; i < g.rowCount(); i++) name.append(r.paradigm());
            g.insertColumn(0, name);
            all = all == null ? g.setName("per-block gains of the trained models") : all.append(g);
        }
        return all;
    }

    /**
     * Throughput per paradigm from short runs interleaved over rounds (rc, hc, ..., rc, hc, ...), so a
     * change in the shared machine's load hits every paradigm alike; the median round counts.
     */
    public Map<Paradigm, double[]> bench(List<Paradigm> paradigms, int rounds, int steps) {
        Map<Paradigm, double[]> tps = new LinkedHashMap<>();
        for (Paradigm p : paradigms) tps.put(p, new double[rounds]);
        for (int round = -1; round < rounds; round++)   // round -1 warms up the JIT and PyTorch and is not recorded
            for (Paradigm p : paradigms) {
                TrainConfig cfg = configFor(p, "bench-").with(List.of("steps=" + steps, "eval_every=0", "log_every=10", "checkpoint_every=0",
                        "eval_batches=1"));
                double v;
                try (Trainer tr = new Trainer(cfg, TokenFile.open(bin))) {
                    v = tr.run().tokensPerSecond();
                }
                if (round >= 0) tps.get(p)[round] = v;
                log.accept(String.format(Locale.ROOT, "bench %s %s: %.0f tokens/s", round < 0 ? "warm-up" : "round " + (round + 1), p.key(), v));
            }
        return tps;
    }

    /**
     * The bench as JSON: machine facts, the model, and per paradigm the median tokens/s and step time, and
     * the step time relative to rc as the median over rounds of the ratio within each round (robust to load drift).
     */
    public String benchJson(Map<Paradigm, double[]> tps, int steps, List<Result> trained, double[] load) {
        long tokensPerStep = (long) base.batch() * base.model().context();
        double[] rc = tps.get(Paradigm.RC);
        StringBuilder p = new StringBuilder();
        for (var e : tps.entrySet()) {
            double[] v = e.getValue(), ratio = new double[v.length];
            for (int i = 0; i < v.length; i++) ratio[i] = rc == null ? Double.NaN : rc[i] / v[i];
            double med = median(v);
            Result tr = trained.stream().filter(r -> r.paradigm().equals(e.getKey().key())).findFirst().orElse(null);
            p.append(p.isEmpty() ? "" : ",\n").append(String.format(Locale.ROOT,
                    "    \"%s\": {\"streams\": %d, \"tokens_per_s\": %.0f, \"step_ms\": %.2f, \"step_time_vs_rc\": %.3f, "
                            + "\"rounds_tokens_per_s\": [%s], \"rounds_step_time_vs_rc\": [%s]%s}",
                    e.getKey().key(), configFor(e.getKey(), "").model().streams(), med, tokensPerStep / med * 1000, median(ratio),
                    join(v, "%.0f"), join(ratio, "%.3f"),
                    tr == null ? "" : String.format(Locale.ROOT, ", \"training_run_tokens_per_s\": %.0f", tr.tokensPerS())));
        }
        return String.format(Locale.ROOT, """
                {
                  "what": "CPU training throughput per paradigm (DJL/PyTorch, float32): after a warm-up round, %d rounds of %d-step runs interleaved over the paradigms; tokens/s: median round; step_time_vs_rc: median over rounds of the step-time ratio to rc in the same round",
                  "command": "OMP_NUM_THREADS=%s bin/hyperlab compare --bench data/bench/cpu.json",
                  "machine": {"cores": %d, "os": "%s %s", "jdk": "%s", "djl": "%s", "pytorch": "%s", "omp_num_threads": "%s", "load_average_before": %.2f, "load_average_after": %.2f, "note": "a shared 2-core machine: other jobs ran too (see the load averages), so absolute tokens/s are low and vary by round"},
                  "model": "%s",
                  "tokens_per_step": %d,
                  "paradigms": {
                %s
                  }
                }
                """, tps.values().iterator().next().length, steps, System.getenv().getOrDefault("OMP_NUM_THREADS", "unset"),
                Runtime.getRuntime().availableProcessors(),
                System.getProperty("os.name"), System.getProperty("os.arch"), Runtime.version(), Engine.getDjlVersion(),
                Engine.getInstance().getVersion(), System.getenv().getOrDefault("OMP_NUM_THREADS", "unset"), load[0], load[1],
                base.model().toString().replace("paradigm=RC, streams=1, ", ""), tokensPerStep, p);
    }

    private static String join(double[] v, String fmt) {
        StringBuilder sb = new StringBuilder();
        for (double x : v) sb.append(sb.isEmpty() ? "" : ", ").append(String.format(Locale.ROOT, fmt, x));
        return sb.toString();
    }

    /** The 1-minute system load average, to show how busy the (shared) machine was. */
    public static double loadAverage() {
        return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
    }

    static double median(double[] v) {
        double[] s = v.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double round(double v, int digits) {
        if (!Double.isFinite(v)) return v;
        double f = Math.pow(10, digits);
        return Math.round(v * f) / f;
    }

    public static List<Paradigm> parse(List<String> names) {
        List<Paradigm> out = new ArrayList<>();
        for (String n : names) out.add(Paradigm.parse(n));
        return out;
    }
}
