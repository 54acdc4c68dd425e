package hyperlab.train;

import java.util.Locale;

/**
 * One logged step: what the terminal prints, metrics.jsonl stores and live displays receive.
 * valLoss is NaN when the step was not evaluated; skipped marks a NaN/Inf step whose update was dropped.
 */
public record Metrics(int step, double loss, double valLoss, double lr, double gradNorm, double tokensPerS,
                      double elapsedS, boolean skipped) {
    public boolean evaluated() { return !Double.isNaN(valLoss); }

    /** One JSON object on one line; NaN/Inf (not valid JSON numbers) are written as null. */
    public String toJson() {
        StringBuilder sb = new StringBuilder("{\"step\":").append(step)
                .append(",\"loss\":").append(num(loss));
        if (evaluated()) sb.append(",\"val_loss\":").append(num(valLoss));
        return sb.append(",\"lr\":").append(num(lr)).append(",\"grad_norm\":").append(num(gradNorm))
                .append(",\"tokens_per_s\":").append(num(tokensPerS)).append(",\"elapsed_s\":").append(num(elapsedS))
                .append(",\"skipped\":").append(skipped).append('}').toString();
    }

    private static String num(double x) {
        return Double.isFinite(x) ? String.format(Locale.ROOT, "%.6g", x) : "null";
    }
}
