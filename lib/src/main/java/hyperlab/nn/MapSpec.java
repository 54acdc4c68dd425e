package hyperlab.nn;

import hyperlab.manifold.Permutations;
import hyperlab.manifold.SpectralSphere;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The learnable tensors of one hyper-connection block with their paper names, shapes and initial
 * values (seed 001 eq. 5–8, seed 003 eq. 4 and 6–9, Appendix G). The DJL block, the float64
 * reference and the parameter tables all read this one list.
 */
public final class MapSpec {
    /** One named parameter; {@code init} is row-major; {@code decay} says whether AdamW decays it. */
    public record Param(String name, long[] shape, double[] init, boolean decay) {
        public long size() { return Arrays.stream(shape).reduce(1, (a, b) -> a * b); }
    }

    private MapSpec() {}

    /**
     * @param blockIndex the sublayer's index in the network (attention 2l, MLP 2l+1): it picks which
     *                   stream H_pre reads first, as HC's e_{k mod n}
     */
    public static List<Param> of(Paradigm p, int n, int width, boolean dynamic, MapInit init, int blockIndex) {
        List<Param> out = new ArrayList<>();
        if (p == Paradigm.RC) return out;
        int d = n * width;
        int hot = blockIndex % n;
        boolean dyn = p != Paradigm.HC || dynamic;
        if (dyn) {
            out.add(zeros("phi_pre", d, n));
            out.add(zeros("phi_post", d, n));
            out.add(scalar("alpha_pre", 0.01));
            out.add(scalar("alpha_post", 0.01));
        }
        out.add(new Param("b_pre", new long[] {n}, gateBias(p, n, hot, init, true), false));
        out.add(new Param("b_post", new long[] {n}, gateBias(p, n, hot, init, false), false));
        switch (p) {
            case HC, MHC -> {
                if (dyn) {
                    out.add(zeros("phi_res", d, (long) n * n));
                    out.add(scalar("alpha_res", 0.01));
                }
                double[] b = new double[n * n];
                for (int i = 0; i < n; i++)
                    for (int j = 0; j < n; j++) b[i * n + j] = p == Paradigm.HC ? (i == j ? 1 : 0) : (i == j ? 0 : -8);
                out.add(new Param("b_res", new long[] {n, n}, b, false));
            }
            case MHC_LITE -> {
                int f = Permutations.count(n);
                out.add(zeros("phi_res", d, f));
                out.add(scalar("alpha_res", 0.01));
                double[] b = new double[f];
                Arrays.fill(b, -8);
                b[0] = 0;                                       // index 0 is the identity permutation
                out.add(new Param("b_res", new long[] {f}, b, false));
            }
            case SHC -> {
                int k = SpectralSphere.skewSize(n);
                if (k > 0) {
                    for (String s : new String[] {"u", "v"}) {
                        out.add(zeros("w_" + s, d, k));
                        out.add(new Param("b_" + s, new long[] {k}, new double[k], false));
                        out.add(scalar("tau_" + s, 0.01));
                        out.add(scalar("gamma_" + s, 1.0));
                    }
                }
                if (n > 1) {
                    out.add(zeros("w_s", d, n - 1));
                    double[] bs = new double[n - 1];
                    Arrays.fill(bs, 4);
                    out.add(new Param("b_s", new long[] {n - 1}, bs, false));
                    out.add(scalar("tau_s", 0.01));
                }
            }
            default -> throw new IllegalStateException("unreachable: " + p);
        }
        return out;
    }

    public static long count(Paradigm p, int n, int width, boolean dynamic) {
        return of(p, n, width, dynamic, MapInit.PAPER, 0).stream().mapToLong(Param::size).sum();
    }

    private static double[] gateBias(Paradigm p, int n, int hot, MapInit init, boolean pre) {
        double[] b = new double[n];
        if (p == Paradigm.HC) {                 // HC's own init (Zhu et al.): H_pre = e_k, H_post = 1
            if (pre) b[hot] = 1; else Arrays.fill(b, 1);
            return b;
        }
        if (init == MapInit.RC_EXACT) {         // σ(b_pre) sums to 1, 2σ(b_post) = 1
            Arrays.fill(b, pre ? (n == 1 ? 20 : -Math.log(n - 1)) : 0);
            return b;
        }
        Arrays.fill(b, -1);
        b[hot] = 1;
        return b;
    }

    private static Param zeros(String name, long rows, long cols) {
        return new Param(name, new long[] {rows, cols}, new double[Math.toIntExact(rows * cols)], true);
    }

    private static Param scalar(String name, double v) {
        return new Param(name, new long[] {1}, new double[] {v}, false);
    }
}
