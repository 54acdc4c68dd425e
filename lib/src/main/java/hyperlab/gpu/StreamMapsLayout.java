package hyperlab.gpu;

import hyperlab.manifold.Permutations;
import hyperlab.manifold.SpectralSphere;
import hyperlab.nn.MapInit;
import hyperlab.nn.MapSpec;
import hyperlab.nn.Paradigm;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Where each {@link MapSpec} parameter of one block goes in {@link StreamMaps}' device buffers (mirrors the constants
 * at the top of streams.cu): the projection matrices [nC, w] become column ranges of Φ_cat [nC, m], every other
 * parameter a slice of the packed vector theta [th].
 * Φ_cat columns: pre n | post n | res (HC, mHC: n², mHC-lite: n!; sHC: w_u k | w_v k | w_s n−1).
 * theta: α_pre, α_post, α_res, b_pre n, b_post n, then b_res (n² or n!) or, for sHC,
 * b_u k, τ_u, γ_u, b_v k, τ_v, γ_v, b_s n−1, τ_s. Unused slots stay 0.
 */
public final class StreamMapsLayout {
    /** One parameter: a column range of Φ_cat ({@code matrix}) or a slice of theta, and its MapSpec shape. */
    public record Slot(String name, boolean matrix, int offset, int width, long[] shape) {
    }

    private final Paradigm paradigm;
    private final int streams, width, columns, thetaSize;
    private final boolean dynamic;
    private final List<Slot> slots;

    public StreamMapsLayout(Paradigm p, int n, int width, boolean dynamic) {
        if (p == Paradigm.RC) throw new IllegalArgumentException("paradigm rc has no stream maps");
        if (n < 1) throw new IllegalArgumentException("streams = " + n + ": at least 1 is required");
        this.paradigm = p;
        this.streams = n;
        this.width = width;
        this.dynamic = p != Paradigm.HC || dynamic;
        long d = (long) n * width;
        int f = p == Paradigm.MHC_LITE ? Permutations.count(n) : 1;
        int k = SpectralSphere.skewSize(n);
        int nr = switch (p) {
            case HC, MHC -> n * n;
            case MHC_LITE -> f;
            default -> n > 1 ? 2 * k + n - 1 : 0;
        };
        this.columns = this.dynamic ? 2 * n + nr : 0;
        int tRes = 3 + 2 * n;
        int tBu = tRes, tTauU = tBu + k, tGamU = tTauU + 1, tBv = tGamU + 1, tTauV = tBv + k, tGamV = tTauV + 1,
                tBs = tGamV + 1, tTauS = tBs + n - 1;
        this.thetaSize = p == Paradigm.SHC ? tTauS + 1 : tRes + (p == Paradigm.MHC_LITE ? f : n * n);
        List<Slot> s = new ArrayList<>();
        if (this.dynamic) {
            s.add(new Slot("phi_pre", true, 0, n, new long[] {d, n}));
            s.add(new Slot("phi_post", true, n, n, new long[] {d, n}));
            s.add(new Slot("alpha_pre", false, 0, 1, new long[] {1}));
            s.add(new Slot("alpha_post", false, 1, 1, new long[] {1}));
        }
        s.add(new Slot("b_pre", false, 3, n, new long[] {n}));
        s.add(new Slot("b_post", false, 3 + n, n, new long[] {n}));
        switch (p) {
            case HC, MHC -> {
                if (this.dynamic) {
                    s.add(new Slot("phi_res", true, 2 * n, n * n, new long[] {d, (long) n * n}));
                    s.add(new Slot("alpha_res", false, 2, 1, new long[] {1}));
                }
                s.add(new Slot("b_res", false, tRes, n * n, new long[] {n, n}));
            }
            case MHC_LITE -> {
                s.add(new Slot("phi_res", true, 2 * n, f, new long[] {d, f}));
                s.add(new Slot("alpha_res", false, 2, 1, new long[] {1}));
                s.add(new Slot("b_res", false, tRes, f, new long[] {f}));
            }
            default -> {
                if (k > 0) {
                    s.add(new Slot("w_u", true, 2 * n, k, new long[] {d, k}));
                    s.add(new Slot("b_u", false, tBu, k, new long[] {k}));
                    s.add(new Slot("tau_u", false, tTauU, 1, new long[] {1}));
                    s.add(new Slot("gamma_u", false, tGamU, 1, new long[] {1}));
                    s.add(new Slot("w_v", true, 2 * n + k, k, new long[] {d, k}));
                    s.add(new Slot("b_v", false, tBv, k, new long[] {k}));
                    s.add(new Slot("tau_v", false, tTauV, 1, new long[] {1}));
                    s.add(new Slot("gamma_v", false, tGamV, 1, new long[] {1}));
                }
                if (n > 1) {
                    s.add(new Slot("w_s", true, 2 * n + 2 * k, n - 1, new long[] {d, n - 1}));
                    s.add(new Slot("b_s", false, tBs, n - 1, new long[] {n - 1}));
                    s.add(new Slot("tau_s", false, tTauS, 1, new long[] {1}));
                }
            }
        }
        this.slots = Collections.unmodifiableList(s);
    }

    /** The parameters in MapSpec's order. */
    public List<Slot> slots() {
        return slots;
    }

    /** m: the columns of Φ_cat (0 for static HC, which has no projections). */
    public int columns() {
        return columns;
    }

    /** The length of the packed small-parameter vector theta. */
    public int thetaSize() {
        return thetaSize;
    }

    /** D = nC, the rows of Φ_cat. */
    public int rows() {
        return streams * width;
    }

    public boolean dynamic() {
        return dynamic;
    }

    public Paradigm paradigm() {
        return paradigm;
    }

    /** The MapSpec parameters this layout covers (for checks). */
    static List<MapSpec.Param> spec(Paradigm p, int n, int width, boolean dynamic) {
        return MapSpec.of(p, n, width, dynamic, MapInit.PAPER, 0);
    }
}
