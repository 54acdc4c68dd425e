package hyperlab.gpu;

/** Float64 causal multi-head attention in the layout of {@link Attention}, forward and analytic backward. */
final class AttentionReference {
    final double[] y, lse, dqkv;

    /** qkv [B, T, 3C], w = dL/dy [B, T, C] of the loss L = Σ w·y. */
    AttentionReference(double[] qkv, double[] w, int batch, int time, int heads, int d) {
        int c = heads * d, ld = 3 * c;
        y = new double[batch * time * c];
        lse = new double[batch * heads * time];
        dqkv = new double[qkv.length];
        double scale = 1 / Math.sqrt(d);
        double[][] p = new double[time][time];
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                int qo = h * d, ko = c + h * d, vo = 2 * c + h * d;
                for (int i = 0; i < time; i++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        double s = 0;
                        for (int e = 0; e < d; e++) s += qkv[(b * time + i) * ld + qo + e] * qkv[(b * time + j) * ld + ko + e];
                        p[i][j] = s * scale;
                        max = Math.max(max, p[i][j]);
                    }
                    double sum = 0;
                    for (int j = 0; j <= i; j++) sum += Math.exp(p[i][j] - max);
                    lse[(b * heads + h) * time + i] = max + Math.log(sum);
                    for (int j = 0; j <= i; j++) p[i][j] = Math.exp(p[i][j] - max) / sum;
                    for (int e = 0; e < d; e++) {
                        double acc = 0;
                        for (int j = 0; j <= i; j++) acc += p[i][j] * qkv[(b * time + j) * ld + vo + e];
                        y[(b * time + i) * c + h * d + e] = acc;
                    }
                }
                // backward: dP = w v^T, dS = P (dP - rowsum(P dP)), dq = dS k / sqrt(d), dk = dS^T q / sqrt(d), dv = P^T w
                for (int i = 0; i < time; i++) {
                    double[] dp = new double[i + 1];
                    double dot = 0;
                    for (int j = 0; j <= i; j++) {
                        double s = 0;
                        for (int e = 0; e < d; e++) s += w[(b * time + i) * c + h * d + e] * qkv[(b * time + j) * ld + vo + e];
                        dp[j] = s;
                        dot += p[i][j] * s;
                    }
                    for (int j = 0; j <= i; j++) {
                        double ds = p[i][j] * (dp[j] - dot) * scale;
                        for (int e = 0; e < d; e++) {
                            dqkv[(b * time + i) * ld + qo + e] += ds * qkv[(b * time + j) * ld + ko + e];
                            dqkv[(b * time + j) * ld + ko + e] += ds * qkv[(b * time + i) * ld + qo + e];
                            dqkv[(b * time + j) * ld + vo + e] += p[i][j] * w[(b * time + i) * c + h * d + e];
                        }
                    }
                }
            }
        }
    }

    /** ‖got − want‖ / ‖want‖ over the columns [from, from + width) of rows of length stride. */
    static double relError(float[] got, double[] want, int stride, int from, int width) {
        double num = 0, den = 0;
        for (int r = 0; r < want.length / stride; r++)
            for (int e = from; e < from + width; e++) {
                double g = got[r * stride + e], x = want[r * stride + e];
                num += (g - x) * (g - x);
                den += x * x;
            }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }
}
