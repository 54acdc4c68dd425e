package hyperlab.data;

/**
 * The unigram baseline a language model must beat: a model that ignores context can do no better than
 * the entropy of the token frequencies, so a loss below it proves the model uses context.
 */
public final class Unigram {
    private Unigram() {}

    /** Counts of each token id in [0, vocab) over the split. */
    public static long[] counts(Split s, int vocab) {
        long[] c = new long[vocab];
        for (long i = s.from(); i < s.to(); i++) {
            int t = s.tokens().get(i);
            if (t < 0 || t >= vocab) throw new IllegalArgumentException("token " + t + " at " + i + " is outside the vocabulary [0, " + vocab + ")");
            c[t]++;
        }
        return c;
    }

    /** −Σ p ln p of the split's token frequencies, in nats (float64). */
    public static double entropyNats(Split s, int vocab) {
        long[] c = counts(s, vocab);
        double n = s.length(), h = 0;
        for (long k : c) if (k > 0) h -= k / n * Math.log(k / n);
        return h;
    }

    /**
     * Mean −ln q(token) over {@code eval} with q the add-one-smoothed frequencies of {@code fit}: the
     * loss of the best context-free model fitted on the train split, measured on the validation split.
     */
    public static double crossEntropyNats(Split fit, Split eval, int vocab) {
        long[] c = counts(fit, vocab), e = counts(eval, vocab);
        double z = fit.length() + vocab, h = 0;
        for (int t = 0; t < vocab; t++) if (e[t] > 0) h -= e[t] * Math.log((c[t] + 1) / z);
        return h / eval.length();
    }
}
