package hyperlab.data;

/** A half-open range [from, to) of a token file: the train part or the validation part. */
public record Split(TokenFile tokens, long from, long to) {
    public Split {
        if (from < 0 || to > tokens.length() || from > to)
            throw new IllegalArgumentException("split [" + from + ", " + to + ") is outside the " + tokens.length() + " tokens of " + tokens.path());
    }

    /** The first (1 − valFraction) of the tokens: the train split. */
    public static Split train(TokenFile t, double valFraction) {
        return new Split(t, 0, boundary(t, valFraction));
    }

    /** The last valFraction of the tokens: the validation split, never seen in training. */
    public static Split val(TokenFile t, double valFraction) {
        return new Split(t, boundary(t, valFraction), t.length());
    }

    public long length() { return to - from; }

    private static long boundary(TokenFile t, double valFraction) {
        if (!(valFraction > 0 && valFraction < 1))
            throw new IllegalArgumentException("validation fraction " + valFraction + " must be in (0, 1), e.g. 0.1");
        return t.length() - (long) Math.ceil(t.length() * valFraction);
    }
}
