package hyperlab.nn;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/** The residual paradigms HyperLab compares; one constructor argument switches between them. */
public enum Paradigm {
    /** Plain residual x + F(x) (He et al.). */
    RC("rc"),
    /** Hyper-connections: n streams, unconstrained static + dynamic (tanh) maps (Zhu et al.). */
    HC("hc"),
    /** Manifold-constrained HC: H_res on the Birkhoff polytope by 20 Sinkhorn-Knopp iterations (DeepSeek). */
    MHC("mhc"),
    /** mHC-lite: H_res a softmax mix of the n! permutation matrices, exactly doubly stochastic. */
    MHC_LITE("mhc-lite"),
    /** Spectral-sphere HC: H_res = J + U Σ V^T with ‖H_res − J‖₂ ≤ 1, negative entries allowed. */
    SHC("shc");

    private final String key;

    Paradigm(String key) { this.key = key; }

    /** The name used in configs and on the command line. */
    public String key() { return key; }

    /** Parses rc|hc|mhc|mhc-lite|shc (case-insensitive, '_' accepted for '-'). */
    public static Paradigm parse(String name) {
        if (name != null) {
            String k = name.trim().toLowerCase(Locale.ROOT).replace('_', '-');
            for (Paradigm p : values()) if (p.key.equals(k)) return p;
        }
        throw new IllegalArgumentException("paradigm = '" + name + "' is unknown: use one of "
                + Arrays.stream(values()).map(Paradigm::key).collect(Collectors.joining(", ")));
    }

    /** Whether H_pre/H_post are sigmoid-activated (mHC family) rather than raw (HC). */
    boolean sigmoidGates() { return this == MHC || this == MHC_LITE || this == SHC; }
}
