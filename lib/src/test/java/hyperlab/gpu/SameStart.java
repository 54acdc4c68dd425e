package hyperlab.gpu;

import hyperlab.nn.Gpt;
import hyperlab.nn.GptConfig;
import hyperlab.train.Metrics;
import hyperlab.train.Run;
import hyperlab.train.TrainConfig;
import hyperlab.train.Trainer;
import java.util.Arrays;
import java.util.List;
import java.util.Properties;

/**
 * Both engines trained from the GPU engine's own initial weights ({@link ParamLayout#initialValues}), which the
 * CPU engine gets copied in: then no checkpoint has to travel, only the numbers, and a run at the size of
 * GpuCompare (whose weights would not fit through the device's transfer limit) can be checked on the GPU.
 */
record SameStart(double[] losses, double[] gradNorms, double valLoss) {

    /** Trains {@code cfg} (its engine) from the layout init and records every step's loss and gradient norm. */
    static SameStart train(TrainConfig cfg) {
        try (Trainer t = new Trainer(cfg)) {
            if (cfg.engine().equals("cpu")) copyLayoutInit(t.model(), cfg.model());
            Run r = t.run();
            List<Metrics> h = r.history();
            if (h.size() != cfg.steps())
                throw new IllegalArgumentException("log_every must be 1 so every step is recorded: got " + h.size() + " of " + cfg.steps());
            return new SameStart(h.stream().mapToDouble(Metrics::loss).toArray(), h.stream().mapToDouble(Metrics::gradNorm).toArray(),
                    r.valLoss());
        }
    }

    /** Overwrites every DJL parameter with the GPU engine's initial value of the same name. */
    static void copyLayoutInit(Gpt model, GptConfig cfg) {
        ParamLayout layout = ParamLayout.of(cfg);
        float[] all = layout.initialValues(cfg.seed());
        for (var e : model.getParameters()) {
            ParamLayout.Entry p = layout.get(e.getKey());
            int off = Math.toIntExact(p.offset());
            e.getValue().getArray().set(Arrays.copyOfRange(all, off, off + Math.toIntExact(p.size())));
        }
    }

    /** Largest relative difference of losses, gradient norms and the validation loss against {@code want}. */
    double worstRelativeGap(SameStart want) {
        double worst = Math.abs(valLoss - want.valLoss) / Math.abs(want.valLoss);
        for (int i = 0; i < losses.length; i++) {
            worst = Math.max(worst, Math.abs(losses[i] - want.losses[i]) / Math.abs(want.losses[i]));
            worst = Math.max(worst, Math.abs(gradNorms[i] - want.gradNorms[i]) / Math.abs(want.gradNorms[i]));
        }
        return worst;
    }

    void store(Properties p) {
        p.setProperty("losses", join(losses));
        p.setProperty("grad_norms", join(gradNorms));
        p.setProperty("val_loss", String.valueOf(valLoss));
    }

    static SameStart load(Properties p) {
        return new SameStart(split(p.getProperty("losses")), split(p.getProperty("grad_norms")),
                Double.parseDouble(p.getProperty("val_loss")));
    }

    @Override
    public String toString() {
        return "losses " + join(losses) + ", gradient norms " + join(gradNorms) + ", val " + valLoss;
    }

    private static String join(double[] a) {
        return String.join(",", Arrays.stream(a).mapToObj(String::valueOf).toList());
    }

    private static double[] split(String s) {
        return Arrays.stream(s.split(",")).mapToDouble(Double::parseDouble).toArray();
    }
}
