package hyperlab.train;

import hyperlab.data.Tokenizer;
import hyperlab.nn.Gpt;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;
import tech.tablesaw.api.Table;

/** A finished (or resumed and finished) training run: its metrics, per-step losses and the trained model. */
public final class Run {
    private final TrainConfig config;
    private final List<Metrics> history;
    private final List<Double> losses;
    private final int firstStep;
    private final double seconds;
    private final Supplier<Gpt> model;
    private Gpt materialized;
    private final Tokenizer tokenizer;

    Run(TrainConfig config, List<Metrics> history, List<Double> losses, int firstStep, double seconds, Supplier<Gpt> model,
        Tokenizer tokenizer) {
        this.config = config;
        this.history = List.copyOf(history);
        this.losses = List.copyOf(losses);
        this.firstStep = firstStep;
        this.seconds = seconds;
        this.model = model;
        this.tokenizer = tokenizer;
    }

    public TrainConfig config() { return config; }

    /** The logged steps as a Tablesaw table (including those before a resume). */
    public Table metrics() { return MetricsTable.of(config.paradigm().key() + " n=" + config.model().streams(), history); }

    public List<Metrics> history() { return history; }

    /** The training loss of every step this invocation ran, in order from {@link #firstStep()}. */
    public List<Double> losses() { return losses; }

    /** The step this invocation started from (0, or a checkpoint's step). */
    public int firstStep() { return firstStep; }

    public double seconds() { return seconds; }

    /** The trained model as a DJL block (a GPU run copies its weights into one on the first call). */
    public synchronized Gpt model() {
        if (materialized == null) materialized = model.get();
        return materialized;
    }

    public Tokenizer tokenizer() { return tokenizer; }

    /** The last validation loss (NaN if none was evaluated). */
    public double valLoss() {
        for (int i = history.size() - 1; i >= 0; i--) if (history.get(i).evaluated()) return history.get(i).valLoss();
        return Double.NaN;
    }

    /** Median tokens per second over this invocation's logged windows (robust to the slow first steps). */
    public double tokensPerSecond() {
        double[] t = history.stream().filter(m -> m.step() > firstStep).mapToDouble(Metrics::tokensPerS).sorted().toArray();
        return t.length == 0 ? Double.NaN : t.length % 2 == 1 ? t[t.length / 2] : (t[t.length / 2 - 1] + t[t.length / 2]) / 2;
    }

    /** First and last loss, validation loss, time and throughput, one line each. */
    public String summary() {
        if (losses.isEmpty()) return "nothing to do: the run had already reached step " + config.steps();
        return String.format(Locale.ROOT, """
                steps        %d → %d (%s)
                first loss   %.4f
                last loss    %.4f
                val loss     %.4f
                time         %.1f s, %.0f tokens/s (median)""",
                firstStep, firstStep + losses.size(), config.paradigm().key(), losses.getFirst(), losses.getLast(),
                valLoss(), seconds, tokensPerSecond());
    }
}
