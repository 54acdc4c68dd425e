package hyperlab.gpu;

import hyperlab.nn.Paradigm;
import hyperlab.train.Metrics;
import hyperlab.train.Run;
import hyperlab.train.TrainConfig;
import hyperlab.train.Trainer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Trains every paradigm with the GPU engine on the same data, seed and recipe and prints one CSV row each: final
 * train/val loss, the worst token's composite Amax gain over all blocks (forward: max absolute row sum of
 * H_res^(L)⋯H_res^(1), backward: column sum) on the last validation batch, parameters, time, throughput, the loss on
 * fixed training-split windows measured like the validation loss (train_eval_loss), and the precision.
 * Needs no DJL, so it runs on the GPU machine. Usage: GpuCompare [--curves FILE] [key=value ...] (TrainConfig keys;
 * engine=gpu is set); --curves also writes every logged step (paradigm,step,loss,val_loss) so the curves can be plotted.
 */
public final class GpuCompare {
    static final String HEADER = "paradigm,streams,layers,width,context,batch,steps,first_loss,train_loss,val_loss,"
            + "composite_gain_fwd,composite_gain_bwd,params,wall_s,tokens_per_s,train_eval_loss,precision";

    private GpuCompare() {
    }

    static final String CURVES_HEADER = "paradigm,step,loss,val_loss";

    public static void main(String[] args) throws IOException {
        List<String> overrides = new ArrayList<>(List.of(args));
        Path curves = null;
        int at = overrides.indexOf("--curves");
        if (at >= 0) {
            if (at + 1 >= overrides.size()) throw new IllegalArgumentException("--curves needs a file name, e.g. --curves gpu-M-curves.csv");
            curves = Path.of(overrides.remove(at + 1));
            overrides.remove(at);
            Files.writeString(curves, CURVES_HEADER + "\n");
        }
        System.out.println(HEADER);
        for (Paradigm p : Paradigm.values()) {
            List<String> o = new ArrayList<>(overrides);
            o.add("paradigm=" + p.key());
            o.add("engine=" + (System.getProperty("hyperlab.emulator") != null ? "emulator" : "gpu"));
            TrainConfig cfg = TrainConfig.defaults().with(o);
            try (Trainer t = new Trainer(cfg)) {
                Run r = t.progressBar(true).run();
                double val = t.evaluate();                  // its last batch leaves the maps the gains are read from
                double[] gains = compositeGains(((GpuEngine) t.engine()).gpt().lastMaps());
                double trainEval = t.evaluateTrain();
                List<Double> l = r.losses();
                double tail = l.subList(Math.max(0, l.size() - 50), l.size()).stream().mapToDouble(d -> d).average().orElse(Double.NaN);
                var m = cfg.model();
                System.out.println(String.format(Locale.ROOT, "%s,%d,%d,%d,%d,%d,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%d,%.1f,%.0f,%.6f,%s",
                        p.key(), m.streams(), m.layers(), m.width(), m.context(), cfg.batch(), cfg.steps(), l.getFirst(), tail, val,
                        gains[0], gains[1], ParamLayout.of(m).count(), r.seconds(), r.tokensPerSecond(), trainEval,
                        cfg.effectivePrecision()));
                if (curves != null) Files.writeString(curves, curveRows(p.key(), r.history()), StandardOpenOption.APPEND);
            }
        }
    }

    /** One CSV row per logged step; val_loss is empty where the step was not evaluated. */
    static String curveRows(String paradigm, List<Metrics> history) {
        StringBuilder sb = new StringBuilder();
        for (Metrics m : history)
            sb.append(String.format(Locale.ROOT, "%s,%d,%.6f,%s%n", paradigm, m.step(), m.loss(),
                    m.evaluated() ? String.format(Locale.ROOT, "%.6f", m.valLoss()) : ""));
        return sb.toString();
    }

    /** {worst token's composite forward gain, backward gain}; 1, 1 for RC (no maps). */
    static double[] compositeGains(List<StreamMaps.Maps> blocks) {
        if (blocks.isEmpty()) return new double[] {1, 1};
        int n = blocks.getFirst().streams(), tokens = blocks.getFirst().tokens();
        double fwd = 0, bwd = 0;
        for (int t = 0; t < tokens; t++) {
            double[][] c = null;
            for (StreamMaps.Maps b : blocks) {
                double[][] h = new double[n][n];
                for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) h[i][j] = b.res()[(t * n + i) * n + j];
                c = c == null ? h : hyperlab.manifold.Matrices.multiply(h, c);
            }
            for (int i = 0; i < n; i++) {
                double row = 0, col = 0;
                for (int j = 0; j < n; j++) {
                    row += Math.abs(c[i][j]);
                    col += Math.abs(c[j][i]);
                }
                fwd = Math.max(fwd, row);
                bwd = Math.max(bwd, col);
            }
        }
        return new double[] {fwd, bwd};
    }
}
