package hyperlab.cli;

import hyperlab.nn.ParameterCounts;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** The command line face of the library: the same objects notebooks use. */
@Command(name = "hyperlab", mixinStandardHelpOptions = true, version = "HyperLab 0.1.0",
        description = "Hyper-connected residual streams: RC, HC, mHC, mHC-lite, sHC.",
        subcommands = {Main.Params.class, TrainCommand.class, CompareCommand.class})
public final class Main implements Runnable {
    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }

    @Override
    public void run() {
        new CommandLine(this).usage(System.out);
    }

    /** Prints the closed-form parameter counts of every paradigm for the tiny, M and L presets. */
    @Command(name = "params", mixinStandardHelpOptions = true, description = "Parameter table per paradigm and preset.")
    static final class Params implements Callable<Integer> {
        @Option(names = {"-n", "--streams"}, defaultValue = "4", description = "residual streams n (default ${DEFAULT-VALUE})")
        int streams;

        @Option(names = "--presets", split = ",", defaultValue = "tiny,M,L", description = "presets (default ${DEFAULT-VALUE})")
        String[] presets;

        @Override
        public Integer call() {
            System.out.println(ParameterCounts.table(streams, presets).printAll());
            return 0;
        }
    }
}
