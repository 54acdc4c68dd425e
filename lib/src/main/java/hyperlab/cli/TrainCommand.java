package hyperlab.cli;

import hyperlab.cuda.CudaException;
import hyperlab.train.Run;
import hyperlab.train.Sampler;
import hyperlab.train.TrainConfig;
import hyperlab.train.Trainer;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code hyperlab train [--config FILE] [key=value ...]}: the CLI face of {@link Trainer}. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a GPT on the CPU (DJL/PyTorch) and write OUT/metrics.jsonl and OUT/checkpoints/.",
                "Run with --keys for every key, its default and what it accepts.",
                "Example: train paradigm=mhc streams=4 preset=tiny steps=200 out=/tmp/r data=text.txt"})
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", paramLabel = "FILE", description = "a key=value properties file; the arguments override it")
    Path config;

    @Option(names = "--sample", paramLabel = "N", defaultValue = "200", description = "tokens of sample text printed after training (default ${DEFAULT-VALUE}, 0 = none)")
    int sample;

    @Option(names = "--keys", description = "list the config keys with their defaults and exit")
    boolean keys;

    @Parameters(paramLabel = "key=value", description = "config overrides")
    List<String> overrides = List.of();

    @Override
    public Integer call() {
        if (keys) {
            System.out.print("key              default      accepts\n" + TrainConfig.describeKeys());
            return 0;
        }
        TrainConfig cfg;
        try {
            cfg = (config == null ? TrainConfig.defaults() : TrainConfig.fromFile(config)).with(overrides);
        } catch (IllegalArgumentException e) {
            System.err.println("hyperlab train: " + e.getMessage());
            return 2;
        }
        System.out.println("config:");
        cfg.toMap().forEach((k, v) -> System.out.printf(Locale.ROOT, "  %-16s %s%n", k, v));
        System.out.println("  model            " + cfg.model());
        try (Trainer trainer = new Trainer(cfg)) {
            System.out.println("  engine           " + trainer.engine().describe());
            System.out.println(cfg.resume() ? "resuming from the newest checkpoint in " + cfg.out().resolve("checkpoints") + ", if any"
                    : "starting afresh in " + cfg.out() + " (resume=true would continue from its checkpoints)");
            trainer.progressBar(true).onMetrics(m -> {
                if (m.evaluated() || m.skipped())
                    System.err.printf(Locale.ROOT, "%nstep %d: loss %.4f%s%s%n", m.step(), m.loss(),
                            m.evaluated() ? String.format(Locale.ROOT, ", val loss %.4f", m.valLoss()) : "",
                            m.skipped() ? " (NaN/Inf: update skipped)" : "");
            });
            Run run = trainer.run();
            System.out.println(run.summary());
            System.out.println("metrics      " + cfg.out().resolve("metrics.jsonl") + "\ncheckpoints  " + cfg.out().resolve("checkpoints"));
            if (sample > 0)
                System.out.println("sample:\n" + Sampler.generate(run.model(), run.tokenizer(), "\n", sample, 0.8, cfg.seed()));
            return 0;
        } catch (IllegalArgumentException | IllegalStateException | UncheckedIOException | CudaException e) {
            System.err.println("hyperlab train: " + e.getMessage());
            return 1;
        }
    }
}
