package hyperlab.nn;

import hyperlab.manifold.Permutations;
import hyperlab.manifold.SpectralSphere;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.LongColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/** Closed-form parameter counts from the papers' definitions, independent of how the blocks store them. */
public final class ParameterCounts {
    private ParameterCounts() {}

    /** nanoGPT with tied embeddings and biases: VC + TC + L(12C² + 13C) + 2C. */
    public static long base(GptConfig c) {
        long C = c.width();
        return (long) c.vocab() * C + (long) c.context() * C + (long) c.layers() * (12 * C * C + 13 * C) + 2 * C;
    }

    /** Extra parameters of one hyper-connection block around a sublayer (seed 001 eq. 5, seed 003 eq. 4 and 8). */
    public static long perBlock(Paradigm p, int n, int width, boolean dynamic) {
        long d = (long) n * width, n2 = (long) n * n;
        return switch (p) {
            case RC -> 0;
            case HC -> dynamic ? d * (2 * n + n2) + 3 + 2 * n + n2 : 2 * n + n2;
            case MHC -> d * (2 * n + n2) + 3 + 2 * n + n2;
            case MHC_LITE -> {
                long f = Permutations.count(n);
                yield d * (2 * n + f) + 3 + 2 * n + f;
            }
            case SHC -> {
                long k = SpectralSphere.skewSize(n);
                long gates = d * 2 * n + 2 + 2L * n;                       // φ_pre, φ_post, α_pre, α_post, b_pre, b_post
                long rotations = k > 0 ? 2 * (d * k + k + 2) : 0;          // W_U, W_V, b_U, b_V, τ_U, τ_V, γ_U, γ_V
                long singular = n > 1 ? d * (n - 1) + (n - 1) + 1 : 0;     // W_S, b_S, τ_S
                yield gates + rotations + singular;
            }
        };
    }

    /** The whole model: base + 2L blocks (attention and MLP each get one). */
    public static long total(GptConfig c) {
        return base(c) + 2L * c.layers() * perBlock(c.paradigm(), c.streams(), c.width(), c.dynamic());
    }

    /** Parameters and overhead against RC for every paradigm at n streams, for the given presets. */
    public static Table table(int n, String... presets) {
        StringColumn preset = StringColumn.create("preset"), paradigm = StringColumn.create("paradigm");
        IntColumn streams = IntColumn.create("n");
        LongColumn params = LongColumn.create("params"), extra = LongColumn.create("extra vs RC");
        DoubleColumn pct = DoubleColumn.create("extra %");
        for (String name : presets) {
            GptConfig base = GptConfig.preset(name);
            long rc = total(base);
            for (Paradigm p : Paradigm.values()) {
                if (p == Paradigm.MHC_LITE && n > Permutations.MAX_STREAMS) continue;
                GptConfig c = p == Paradigm.RC ? base : base.paradigm(p).streams(n);
                long t = total(c);
                preset.append(name);
                paradigm.append(p.key());
                streams.append(c.streams());
                params.append(t);
                extra.append(t - rc);
                pct.append(Math.round(10000.0 * (t - rc) / rc) / 100.0);
            }
        }
        return Table.create("Parameters per paradigm (n = " + n + ")", preset, paradigm, streams, params, extra, pct);
    }
}
