package hyperlab.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import hyperlab.data.Tokenizer;
import hyperlab.nn.Gpt;
import java.util.Arrays;
import java.util.Random;

/** Text from a trained model: autoregressive sampling at a temperature (0 = greedy), seeded. */
public final class Sampler {
    private Sampler() {}

    /** The prompt followed by {@code tokens} sampled tokens; the model sees at most its context. */
    public static String generate(Gpt model, Tokenizer tokenizer, String prompt, int tokens, double temperature, long seed) {
        if (tokens < 0 || temperature < 0)
            throw new IllegalArgumentException("tokens = " + tokens + ", temperature = " + temperature + ": both must be ≥ 0");
        int[] ids = tokenizer.encode(prompt.isEmpty() ? "\n" : prompt);
        int n = ids.length;
        ids = Arrays.copyOf(ids, n + tokens);
        int ctx = model.config().context();
        Random r = new Random(seed);
        try (NDManager m = NDManager.newBaseManager()) {
            for (int i = 0; i < tokens; i++) {
                int from = Math.max(0, n - ctx);
                try (NDManager step = m.newSubManager()) {
                    NDArray in = step.create(Arrays.copyOfRange(ids, from, n)).reshape(1, n - from);
                    NDArray logits = model.logits(in).get(new NDIndex("0, -1")).toType(DataType.FLOAT64, false);
                    double[] l = logits.toDoubleArray();
                    logits.close();
                    ids[n++] = pick(l, temperature, r);
                }
            }
        }
        return tokenizer.decode(Arrays.copyOf(ids, n));
    }

    private static int pick(double[] logits, double temperature, Random r) {
        int best = 0;
        for (int i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
        if (temperature == 0) return best;
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) sum += p[i] = Math.exp((logits[i] - logits[best]) / temperature);
        double u = r.nextDouble() * sum;
        for (int i = 0; i < p.length; i++) if ((u -= p[i]) <= 0) return i;
        return best;
    }
}
