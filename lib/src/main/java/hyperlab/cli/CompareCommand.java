package hyperlab.cli;

import hyperlab.diag.Comparison;
import hyperlab.nn.Paradigm;
import hyperlab.train.TrainConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tech.tablesaw.api.Table;

/** {@code hyperlab compare}: every paradigm trained on the same data and seed, as one CSV table and a throughput JSON. */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = {"Train each paradigm with the same data, seed and recipe on the CPU; write the comparison table",
                "(losses, unigram baseline, composite gains of the trained models, params, time) and a throughput benchmark.",
                "Defaults (override with key=value as for train): " + CompareCommand.DEFAULTS,
                "The committed results (data/results/cpu-*.csv, data/bench/cpu.json) come from lib/bin/cpu-results.sh (OMP_NUM_THREADS=1)."})
public final class CompareCommand implements Callable<Integer> {
    /** The CPU recipe for the tiny model: lr 3e-3 (the paper's 6e-4 is tuned for 0.1B+ models and long runs). */
    static final String DEFAULTS = "preset=tiny steps=1000 lr=3e-3 warmup=100 eval_every=250 eval_batches=20 log_every=25 checkpoint_every=0";

    @Option(names = "--paradigms", split = ",", defaultValue = "rc,hc,mhc,mhc-lite,shc", description = "paradigms to train (default ${DEFAULT-VALUE})")
    List<String> paradigms;

    @Option(names = "--csv", paramLabel = "FILE", description = "write the comparison table here (e.g. data/results/cpu-tiny.csv)")
    Path csv;

    @Option(names = "--gains-csv", paramLabel = "FILE", description = "write every trained model's per-block gains here")
    Path gainsCsv;

    @Option(names = "--bench", paramLabel = "FILE", description = "also run the throughput benchmark and write its JSON here (e.g. data/bench/cpu.json)")
    Path bench;

    @Option(names = "--bench-rounds", defaultValue = "5", description = "interleaved rounds of the benchmark (default ${DEFAULT-VALUE})")
    int benchRounds;

    @Option(names = "--bench-steps", defaultValue = "80", description = "steps per benchmark run (default ${DEFAULT-VALUE})")
    int benchSteps;

    @Option(names = "--no-train", description = "only the benchmark")
    boolean noTrain;

    @Option(names = "--out", paramLabel = "DIR", defaultValue = "runs/compare", description = "run folders (default ${DEFAULT-VALUE})")
    Path out;

    @Parameters(paramLabel = "key=value", description = "config overrides, as for train (train --keys lists them)")
    List<String> overrides = List.of();

    @Override
    public Integer call() {
        TrainConfig base;
        List<Paradigm> ps;
        try {
            List<String> all = new ArrayList<>(List.of(DEFAULTS.split(" ")));
            all.addAll(overrides);
            base = TrainConfig.defaults().with(all);
            ps = Comparison.parse(paradigms);
        } catch (IllegalArgumentException e) {
            System.err.println("hyperlab compare: " + e.getMessage());
            return 2;
        }
        try {
            double load0 = Comparison.loadAverage();
            Comparison c = new Comparison(base, out).log(s -> System.err.println("compare: " + s));
            double[] uni = c.unigram();
            System.out.printf(Locale.ROOT, "unigram entropy of the corpus %.4f nats; unigram cross-entropy train -> val %.4f nats%n", uni[0], uni[1]);
            List<Comparison.Result> rs = new ArrayList<>();
            if (!noTrain) {
                for (Paradigm p : ps) rs.add(c.train(p));
                Table t = Comparison.table(rs, uni);
                System.out.println(t.printAll());
                if (csv != null) write(csv, null, t);
                Table g = Comparison.gains(rs);
                if (gainsCsv != null && g != null) write(gainsCsv, null, g);
            }
            if (bench != null) {
                Map<Paradigm, double[]> tps = c.bench(ps, benchRounds, benchSteps);
                String json = c.benchJson(tps, benchSteps, rs, new double[] {load0, Comparison.loadAverage()});
                System.out.println(json);
                write(bench, json, null);
            }
            return 0;
        } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException e) {
            System.err.println("hyperlab compare: " + e.getMessage());
            return 1;
        }
    }

    private static void write(Path file, String text, Table table) {
        try {
            if (file.toAbsolutePath().getParent() != null) Files.createDirectories(file.toAbsolutePath().getParent());
            if (table != null) table.write().csv(file.toFile());
            else Files.writeString(file, text);
            System.err.println("compare: wrote " + file);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write " + file + ": " + e, e);
        }
    }
}
