package hyperlab.diag;

import hyperlab.manifold.Permutations;
import hyperlab.manifold.SpectralSphere;
import hyperlab.nn.GptConfig;
import hyperlab.nn.Paradigm;
import tech.tablesaw.api.DoubleColumn;
import tech.tablesaw.api.IntColumn;
import tech.tablesaw.api.LongColumn;
import tech.tablesaw.api.StringColumn;
import tech.tablesaw.api.Table;

/**
 * What n streams cost besides parameters: forward FLOPs per token of the maps and stream mixing against
 * the transformer's own, residual-stream memory, and mHC's recompute block size L_r* (seed 001 §4.3).
 */
public final class Overhead {
    private Overhead() {}

    /** Forward FLOPs per token: the plain transformer's and the hyper-connections' additions. */
    public record Flops(long transformer, long hyperConnections) {
        public double ratio() { return (double) hyperConnections / transformer; }
    }

    /**
     * Transformer forward FLOPs per token as in nanoGPT/PaLM accounting: 2 per non-embedding weight
     * (24C² per layer) plus attention's 4·T·C per layer (QK^T and AV over the full context).
     */
    public static long transformerFlops(GptConfig c) {
        long C = c.width();
        return (long) c.layers() * (2 * 12 * C * C + 4L * c.context() * C) + 2L * c.vocab() * C;
    }

    /** Forward FLOPs per token of one block's maps and mixing (multiply-add = 2). */
    public static long blockFlops(Paradigm p, int n, int width, int sinkhornIterations) {
        if (p == Paradigm.RC) return width;                               // x + F(x)
        long d = (long) n * width, n2 = (long) n * n;
        long mixing = 2 * d + 2 * n2 * width + 2 * d + d;               // H_pre x, H_res x, H_post^T f, add
        long norm = 3 * d;                                                // RMSNorm of vec(x)
        long outs, manifold;
        switch (p) {
            case HC, MHC -> { outs = 2L * n + n2; manifold = p == Paradigm.MHC ? n2 + sinkhornIterations * 4L * n2 : n2; }
            case MHC_LITE -> {
                long f = Permutations.count(n);
                outs = 2L * n + f;
                manifold = 3 * f + 2 * f * n2;                           // softmax, then Σ_k a_k P_k
            }
            case SHC -> {
                long k = SpectralSphere.skewSize(n), m = n - 1;
                outs = 2L * n + 2 * k + m;
                manifold = 2 * (2 * m * m * m + 2 * m * m * m)            // two Cayley transforms: inverse + product
                        + 2 * (2 * n * m * m) + 2 * n * n * m + n2;       // U_Z U_core, V likewise, U Σ V^T, + J
            }
            default -> throw new IllegalStateException("unreachable");
        }
        return mixing + norm + 2 * d * outs + manifold;
    }

    public static Flops flops(GptConfig c) {
        long hc = 2L * c.layers() * (blockFlops(c.paradigm(), c.streams(), c.width(), c.sinkhornIterations())
                - blockFlops(Paradigm.RC, 1, c.width(), 0));
        return new Flops(transformerFlops(c), hc);
    }

    /** Activation memory (elements per token) of mHC's recompute scheme: nC per block boundary kept, (n+2)C per layer recomputed. */
    public static long recomputeMemory(int n, int width, int layers, int blockSize) {
        if (blockSize < 1 || blockSize > layers)
            throw new IllegalArgumentException("blockSize = " + blockSize + ": must be in [1, layers = " + layers + "]");
        return (long) n * width * ((layers + blockSize - 1) / blockSize) + (long) (n + 2) * width * blockSize;
    }

    /** The exact argmin over L_r of {@link #recomputeMemory}; ≈ sqrt(nL/(n+2)). */
    public static int recomputeBlock(int n, int layers) {
        int best = 1;
        for (int lr = 2; lr <= layers; lr++) if (recomputeMemory(n, 1, layers, lr) < recomputeMemory(n, 1, layers, best)) best = lr;
        return best;
    }

    /** FLOP overhead and recompute block per paradigm for a preset at n streams. */
    public static Table table(String preset, int n) {
        GptConfig base = GptConfig.preset(preset);
        StringColumn paradigm = StringColumn.create("paradigm");
        LongColumn fl = LongColumn.create("extra FLOPs/token");
        DoubleColumn pct = DoubleColumn.create("extra FLOPs %");
        IntColumn lr = IntColumn.create("L_r* (of 2L blocks)");
        for (Paradigm p : Paradigm.values()) {
            if (p == Paradigm.RC || (p == Paradigm.MHC_LITE && n > Permutations.MAX_STREAMS)) continue;
            Flops f = flops(base.paradigm(p).streams(n));
            paradigm.append(p.key());
            fl.append(f.hyperConnections());
            pct.append(Math.round(1e4 * f.ratio()) / 100.0);
            lr.append(recomputeBlock(n, 2 * base.layers()));
        }
        return Table.create("Overhead at preset " + preset + ", n = " + n, paradigm, fl, pct, lr);
    }
}
