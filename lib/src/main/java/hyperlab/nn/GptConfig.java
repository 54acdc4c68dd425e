package hyperlab.nn;

import java.util.Locale;

/**
 * A nanoGPT-style model: size, context, and which residual paradigm with how many streams.
 * Immutable; the with-methods return validated copies so a notebook can chain them.
 */
public record GptConfig(
        int vocab, int context, int layers, int width, int heads,
        Paradigm paradigm, int streams, boolean dynamic, int sinkhornIterations, boolean sinkhornLogDomain,
        MapInit init, long seed) {

    public GptConfig {
        positive("vocab", vocab);
        positive("context", context);
        positive("layers", layers);
        positive("width", width);
        positive("heads", heads);
        if (width % heads != 0)
            throw new IllegalArgumentException("width = " + width + " is not divisible by heads = " + heads
                    + ": choose heads among the divisors of width (e.g. " + divisorsHint(width) + ")");
        if (paradigm == null) throw new IllegalArgumentException("paradigm is null: use one of rc, hc, mhc, mhc-lite, shc");
        if (init == null) throw new IllegalArgumentException("init is null: use PAPER or RC_EXACT");
        if (streams < 1) throw new IllegalArgumentException("streams = " + streams + ": at least 1 residual stream is required");
        if (paradigm == Paradigm.RC && streams != 1)
            throw new IllegalArgumentException("streams = " + streams + " with paradigm rc: the plain residual has exactly 1 stream");
        if (paradigm == Paradigm.MHC_LITE && streams > hyperlab.manifold.Permutations.MAX_STREAMS)
            throw new IllegalArgumentException("streams = " + streams + " with paradigm mhc-lite: at most "
                    + hyperlab.manifold.Permutations.MAX_STREAMS + " (n! permutation weights per token)");
        if (sinkhornIterations < 1)
            throw new IllegalArgumentException("sinkhornIterations = " + sinkhornIterations + ": at least 1 is required (mHC uses 20)");
    }

    /** Named sizes: tiny (CPU, CI), M (12L/768d/12h, 0.12B) and L (24L/1024d/16h, 0.36B) of seed 003 Table 4. */
    public static GptConfig preset(String name) {
        return switch (name == null ? "" : name.toLowerCase(Locale.ROOT)) {
            case "tiny" -> new GptConfig(256, 64, 2, 32, 2, Paradigm.RC, 1, true, 20, false, MapInit.PAPER, 1337);
            case "m" -> new GptConfig(50304, 1024, 12, 768, 12, Paradigm.RC, 1, true, 20, false, MapInit.PAPER, 1337);
            case "l" -> new GptConfig(50304, 1024, 24, 1024, 16, Paradigm.RC, 1, true, 20, false, MapInit.PAPER, 1337);
            default -> throw new IllegalArgumentException("preset = '" + name + "' is unknown: use tiny, M or L");
        };
    }

    /** Switches paradigm; RC forces one stream, the others default to n = 4 (the papers' choice) when at 1. */
    public GptConfig paradigm(Paradigm p) {
        int n = p == Paradigm.RC ? 1 : (streams == 1 ? 4 : streams);
        return new GptConfig(vocab, context, layers, width, heads, p, n, dynamic, sinkhornIterations, sinkhornLogDomain, init, seed);
    }

    public GptConfig paradigm(String name) { return paradigm(Paradigm.parse(name)); }

    public GptConfig streams(int n) {
        return new GptConfig(vocab, context, layers, width, heads, paradigm, n, dynamic, sinkhornIterations, sinkhornLogDomain, init, seed);
    }

    public GptConfig vocab(int v) {
        return new GptConfig(v, context, layers, width, heads, paradigm, streams, dynamic, sinkhornIterations, sinkhornLogDomain, init, seed);
    }

    public GptConfig context(int t) {
        return new GptConfig(vocab, t, layers, width, heads, paradigm, streams, dynamic, sinkhornIterations, sinkhornLogDomain, init, seed);
    }

    public GptConfig layers(int l) {
        return new GptConfig(vocab, context, l, width, heads, paradigm, streams, dynamic, sinkhornIterations, sinkhornLogDomain, init, seed);
    }

    public GptConfig width(int c) {
        return new GptConfig(vocab, context, layers, c, heads, paradigm, streams, dynamic, sinkhornIterations, sinkhornLogDomain, init, seed);
    }

    public GptConfig heads(int h) {
        return new GptConfig(vocab, context, layers, width, h, paradigm, streams, dynamic, sinkhornIterations, sinkhornLogDomain, init, seed);
    }

    /** HC only: false keeps just the static (bias) maps, true adds the input-dependent tanh part. */
    public GptConfig dynamic(boolean d) {
        return new GptConfig(vocab, context, layers, width, heads, paradigm, streams, d, sinkhornIterations, sinkhornLogDomain, init, seed);
    }

    public GptConfig sinkhorn(int iterations, boolean logDomain) {
        return new GptConfig(vocab, context, layers, width, heads, paradigm, streams, dynamic, iterations, logDomain, init, seed);
    }

    public GptConfig init(MapInit i) {
        return new GptConfig(vocab, context, layers, width, heads, paradigm, streams, dynamic, sinkhornIterations, sinkhornLogDomain, i, seed);
    }

    public GptConfig seed(long s) {
        return new GptConfig(vocab, context, layers, width, heads, paradigm, streams, dynamic, sinkhornIterations, sinkhornLogDomain, init, s);
    }

    private static void positive(String name, int v) {
        if (v < 1) throw new IllegalArgumentException(name + " = " + v + ": must be a positive integer");
    }

    private static String divisorsHint(int width) {
        StringBuilder sb = new StringBuilder();
        for (int d = 1; d <= width && sb.length() < 40; d++) if (width % d == 0) sb.append(sb.isEmpty() ? "" : ", ").append(d);
        return sb.toString();
    }
}
