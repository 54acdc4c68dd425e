package hyperlab.train;

import hyperlab.data.BatchSampler;
import hyperlab.data.Corpus;
import hyperlab.data.Split;
import hyperlab.data.TokenFile;
import hyperlab.data.Tokenizer;
import hyperlab.nn.Gpt;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * The training loop, on either engine ({@link TrainConfig#engine()}: cpu, gpu, or emulator for the GPU engine's
 * kernels run on the CPU): AdamW with warm-up + cosine, global-norm clipping, a NaN/Inf guard, periodic validation,
 * metrics.jsonl and atomic checkpoints that resume bit for bit on the CPU engine (with deterministic kernels:
 * OMP_NUM_THREADS=1, since several threads on a busy machine may reorder sums). The model lives as long as the
 * trainer: close it (or the JVM) to free its memory.
 */
public final class Trainer implements AutoCloseable {
    /** The last 10 % of the tokens are the validation split. */
    public static final double VAL_FRACTION = 0.1;

    private final TrainConfig cfg;
    private final Tokenizer tokenizer;
    private final Engine engine;
    private final TokenFile tokens;
    private final BatchSampler train;
    private final Split trainSplit;
    private final Split val;
    private final LrSchedule schedule;
    /** What a checkpoint records of the data (tokenizer, token count, CRC-32), so a resume cannot switch data silently. */
    private final String dataId;
    private final List<Consumer<Metrics>> listeners = new ArrayList<>();
    private boolean progressBar;

    /** Trains on what the config's data key names: default, a text file, or a ready nanoGPT {@code .bin} token file. */
    public Trainer(TrainConfig cfg) {
        this(cfg, cfg.data().endsWith(".bin") ? TokenFile.open(Path.of(cfg.data())) : tokenize(cfg, Corpus.of(cfg.data())));
    }

    /** Tokenizes the corpus with the config's tokenizer into OUT/tokens-NAME.bin. */
    public Trainer(TrainConfig cfg, Corpus corpus) {
        this(cfg, tokenize(cfg, corpus));
    }

    /** Trains on tokens already in nanoGPT's format; the trainer closes the file when it is closed. */
    public Trainer(TrainConfig cfg, TokenFile tokens) {
        int vocab = cfg.model().vocab(), max = tokens.max();
        if (max >= vocab)
            throw new IllegalArgumentException("token file " + tokens.path() + " holds id " + max + " but the vocabulary is "
                    + vocab + ": set tokenizer= to the one that made the file (gpt2 for GPT-2 ids)");
        this.cfg = cfg;
        this.tokens = tokens;
        this.tokenizer = Tokenizer.of(cfg.tokenizer());
        int t = cfg.model().context();
        this.trainSplit = Split.train(tokens, VAL_FRACTION);
        this.train = new BatchSampler(trainSplit, cfg.batch(), t, cfg.seed());
        this.val = Split.val(tokens, VAL_FRACTION);
        new BatchSampler(val, cfg.batch(), t, cfg.seed() + 1);   // fails now, not at the first evaluation, when val is too short
        this.schedule = LrSchedule.of(cfg);
        this.dataId = String.format(Locale.ROOT, "%s tokens (%d, crc32 %08x)", tokenizer.name(), tokens.length(), tokens.crc32());
        try {
            this.engine = engineFor(cfg);
        } catch (RuntimeException e) {
            tokens.close();
            throw e;
        }
    }

    private static Engine engineFor(TrainConfig cfg) {
        return switch (cfg.engine()) {
            case "cpu" -> new CpuEngine(cfg);
            case "gpu" -> new hyperlab.gpu.GpuEngine(cfg, hyperlab.gpu.GpuEngine.gpu());
            case "emulator" -> new hyperlab.gpu.GpuEngine(cfg, hyperlab.cuda.Cuda.emulator());
            default -> throw new IllegalArgumentException("engine = '" + cfg.engine() + "': use cpu, gpu or emulator");
        };
    }

    private static TokenFile tokenize(TrainConfig cfg, Corpus corpus) {
        Tokenizer tok = Tokenizer.of(cfg.tokenizer());
        return corpus.tokenize(tok, cfg.out().resolve("tokens-" + tok.name() + ".bin"));
    }

    /** Trains a config to the end; the returned run keeps the model alive for sampling and diagnostics. */
    public static Run train(TrainConfig cfg) {
        return new Trainer(cfg).run();
    }

    public static Run train(TrainConfig cfg, Corpus corpus) {
        return new Trainer(cfg, corpus).run();
    }

    /** Receives every logged step (a notebook's live chart, the CLI's printer). */
    public Trainer onMetrics(Consumer<Metrics> listener) {
        listeners.add(listener);
        return this;
    }

    /** Shows a terminal progress bar on stderr. */
    public Trainer progressBar(boolean show) {
        this.progressBar = show;
        return this;
    }

    /** The model as a DJL block (for the GPU engine, a copy of its current weights). */
    public Gpt model() { return engine.model(); }

    /** The engine this trainer drives. */
    public Engine engine() { return engine; }

    public Tokenizer tokenizer() { return tokenizer; }

    public TrainConfig config() { return cfg; }

    /** Runs from step 0, or from the newest checkpoint when resume=true, to the configured steps. */
    public Run run() {
        int start = 0, badInRow = 0;
        List<Path> ckpts = Checkpoint.list(cfg.out());
        if (cfg.resume() && !ckpts.isEmpty()) {
            Checkpoint.State s = Checkpoint.load(ckpts.getLast(), engine.slots());
            if (!s.model().equals(cfg.model().toString()))
                throw new IllegalStateException("checkpoint " + ckpts.getLast() + " was written for " + s.model()
                        + " but this config builds " + cfg.model() + ": resume with the original model keys");
            if (!s.data().equals(dataId))
                throw new IllegalStateException("checkpoint " + ckpts.getLast() + " was trained on " + s.data()
                        + " but this run's data is " + dataId + ": resume with the same data and tokenizer, or choose another out folder");
            start = s.step();
            badInRow = s.badInRow();
            train.seek(s.samplerPosition());
        }
        List<Metrics> history = keepMetricsBefore(start);
        List<Double> losses = new ArrayList<>();
        long tokensPerStep = (long) cfg.batch() * cfg.model().context();
        long t0 = System.nanoTime(), windowStart = t0;
        int windowSteps = 0;
        try (ProgressBar bar = progressBar ? bar(start) : null) {
            for (int s = start; s < cfg.steps(); s++) {
                double lr = schedule.at(s);
                Engine.Step st = engine.step(train.next(), lr);
                double loss = st.loss(), norm = st.norm();
                boolean skipped = st.skipped();
                losses.add(loss);
                windowSteps++;
                badInRow = skipped ? badInRow + 1 : 0;
                int done = s + 1;
                boolean last = done == cfg.steps();
                boolean evaluate = last || (cfg.evalEvery() > 0 && done % cfg.evalEvery() == 0);
                if (skipped || evaluate || last || done % cfg.logEvery() == 0 || s == start) {
                    long now = System.nanoTime();
                    double tps = tokensPerStep * windowSteps / ((now - windowStart) / 1e9);
                    double valLoss = evaluate ? evaluate() : Double.NaN;
                    Metrics m = new Metrics(done, loss, valLoss, lr, norm, tps, (System.nanoTime() - t0) / 1e9, skipped);
                    history.add(m);
                    appendJson(m);
                    listeners.forEach(l -> l.accept(m));
                    if (bar != null) bar.setExtraMessage(String.format(Locale.ROOT, " loss %.4f%s", loss,
                            evaluate ? String.format(Locale.ROOT, " val %.4f", valLoss) : ""));
                    windowStart = System.nanoTime();
                    windowSteps = 0;
                }
                if (bar != null) bar.stepTo(done);
                if (badInRow >= cfg.maxBadSteps())
                    throw new IllegalStateException(badInRow + " steps in a row (the last: step " + done + ") had a NaN/Inf loss or gradient,"
                            + " so their updates were skipped and the run stopped (max_bad_steps = " + cfg.maxBadSteps()
                            + "). Lower lr (now " + cfg.lr() + "), lengthen warmup, or check the data; resume=true"
                            + " continues from the last good checkpoint, if any, in " + cfg.out().resolve("checkpoints"));
                if (last || (cfg.checkpointEvery() > 0 && done % cfg.checkpointEvery() == 0))
                    Checkpoint.save(cfg.out(), new Checkpoint.State(done, train.position(), engine.slots().adamSteps(), badInRow,
                            cfg.model().toString(), dataId), engine.slots());
            }
        }
        return new Run(cfg, history, losses, start, (System.nanoTime() - t0) / 1e9, engine::model, tokenizer);
    }

    /** Mean loss over eval_batches fixed validation batches (the same ones every time, for comparable numbers). */
    public double evaluate() {
        return evaluate(new BatchSampler(val, cfg.batch(), cfg.model().context(), cfg.seed() + 1));
    }

    /**
     * The same measurement on fixed windows of the training split drawn with a seed no training step uses: next to
     * {@link #evaluate()} it separates a train/val gap of the data (the split's text) from one of the training loop.
     */
    public double evaluateTrain() {
        return evaluate(new BatchSampler(trainSplit, cfg.batch(), cfg.model().context(), cfg.seed() + 2));
    }

    private double evaluate(BatchSampler s) {
        double sum = 0;
        for (int i = 0; i < cfg.evalBatches(); i++) sum += engine.loss(s.next());
        return sum / cfg.evalBatches();
    }

    private ProgressBar bar(int start) {
        return new ProgressBarBuilder().setTaskName("train " + cfg.paradigm().key()).setInitialMax(cfg.steps())
                .startsFrom(start, java.time.Duration.ZERO).setStyle(ProgressBarStyle.ASCII).setUpdateIntervalMillis(500)
                .continuousUpdate().build();
    }

    /** Starts metrics.jsonl afresh, or on resume keeps the lines of the steps before the checkpoint. */
    private List<Metrics> keepMetricsBefore(int start) {
        Path f = cfg.out().resolve("metrics.jsonl");
        List<Metrics> kept = new ArrayList<>();
        try {
            Files.createDirectories(cfg.out());
            List<String> lines = start > 0 && Files.exists(f) ? Files.readAllLines(f) : List.of();
            List<String> keep = new ArrayList<>();
            for (String l : lines) {
                Metrics m = MetricsTable.parse(l);
                if (m.step() <= start) {
                    keep.add(l);
                    kept.add(m);
                }
            }
            Files.write(f, keep, StandardCharsets.UTF_8);
            if (start == 0) for (Path old : Checkpoint.list(cfg.out())) Files.delete(old);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare " + f + ": " + e, e);
        }
        return kept;
    }

    private void appendJson(Metrics m) {
        try {
            Files.writeString(cfg.out().resolve("metrics.jsonl"), m.toJson() + "\n", StandardCharsets.UTF_8,
                    StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot append to " + cfg.out().resolve("metrics.jsonl") + ": " + e, e);
        }
    }

    @Override
    public void close() {
        tokens.close();
        engine.close();
    }
}
