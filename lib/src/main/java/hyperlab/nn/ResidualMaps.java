package hyperlab.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import hyperlab.manifold.Permutations;
import hyperlab.manifold.Sinkhorn;
import hyperlab.manifold.SpectralSphere;
import java.util.Map;

/**
 * The three maps of a hyper-connection block, batched over tokens as DJL ops (autograd flows
 * through all of them): x (..., n, C) → H_pre (..., n), H_post (..., n), H_res (..., n, n).
 */
public final class ResidualMaps {
    /** RMSNorm's epsilon for the flattened streams. */
    public static final double EPS = 1e-6;

    /** The maps for one batch of tokens. */
    public record Maps(NDArray pre, NDArray post, NDArray res) {}

    private ResidualMaps() {}

    /** x' = vec(x) / rms(vec(x)); no learnable gain, since the projections φ absorb any scale. */
    public static NDArray rmsNormFlat(NDArray x) {
        Shape s = x.getShape();
        int dims = s.dimension();
        NDArray flat = x.reshape(s.slice(0, dims - 2).add(s.get(dims - 2) * s.get(dims - 1)));
        NDArray ms = flat.square().mean(new int[] {-1}, true);
        return flat.div(ms.add(EPS).sqrt());
    }

    /** Computes H_pre, H_post, H_res from the block's parameters (named as in {@link MapSpec}). */
    public static Maps compute(Paradigm p, int n, boolean dynamic, int sinkhornIterations, boolean logDomain,
                               Map<String, NDArray> w, NDArray x) {
        boolean dyn = p != Paradigm.HC || dynamic;
        NDArray xn = dyn ? rmsNormFlat(x) : null;
        Shape batch = x.getShape().slice(0, x.getShape().dimension() - 2);
        NDArray pre = gate(p, dyn, xn, w, "pre", batch);
        NDArray post = gate(p, dyn, xn, w, "post", batch);
        if (p.sigmoidGates()) {
            pre = Activation.sigmoid(pre);
            post = Scalars.mul(Activation.sigmoid(post), 2);
        }
        NDArray res = switch (p) {
            case HC -> {
                NDArray b = w.get("b_res");
                if (!dyn) yield b.broadcast(batch.addAll(new Shape(n, n)));
                NDArray z = xn.matMul(w.get("phi_res")).tanh().mul(w.get("alpha_res"));
                yield z.reshape(z.getShape().slice(0, z.getShape().dimension() - 1).addAll(new Shape(n, n))).add(b);
            }
            case MHC -> {
                NDArray z = xn.matMul(w.get("phi_res")).mul(w.get("alpha_res"));
                NDArray logits = z.reshape(z.getShape().slice(0, z.getShape().dimension() - 1).addAll(new Shape(n, n))).add(w.get("b_res"));
                yield logDomain ? Sinkhorn.projectLog(logits, sinkhornIterations) : Sinkhorn.project(logits, sinkhornIterations);
            }
            case MHC_LITE -> Permutations.mix(xn.matMul(w.get("phi_res")).mul(w.get("alpha_res")).add(w.get("b_res")), n);
            case SHC -> spectral(n, xn, w);
            case RC -> throw new IllegalArgumentException("paradigm rc has no residual maps");
        };
        return new Maps(pre, post, res);
    }

    private static NDArray gate(Paradigm p, boolean dyn, NDArray xn, Map<String, NDArray> w, String which, Shape batch) {
        NDArray b = w.get("b_" + which);
        if (!dyn) return b.broadcast(batch.add(b.size()));
        NDArray z = xn.matMul(w.get("phi_" + which));
        if (p == Paradigm.HC) z = z.tanh();
        return z.mul(w.get("alpha_" + which)).add(b);
    }

    private static NDArray spectral(int n, NDArray xn, Map<String, NDArray> w) {
        Shape batch = xn.getShape().slice(0, xn.getShape().dimension() - 1);
        if (n == 1) return xn.getManager().ones(batch.addAll(new Shape(1, 1)), xn.getDataType());
        int k = SpectralSphere.skewSize(n);
        NDArray sigma = xn.matMul(w.get("w_s")).mul(w.get("tau_s")).add(w.get("b_s")).tanh();
        NDArray u, v;
        if (k > 0) {
            u = SpectralSphere.cayley(SpectralSphere.skew(rotation(xn, w, "u"), n - 1));
            v = SpectralSphere.cayley(SpectralSphere.skew(rotation(xn, w, "v"), n - 1));
        } else {
            u = v = xn.getManager().ones(batch.addAll(new Shape(1, 1)), xn.getDataType());
        }
        return SpectralSphere.compose(u, sigma, v, n);
    }

    /** γ · tanh(τ · x'W + b), the k rotation angles of eq. 8. */
    private static NDArray rotation(NDArray xn, Map<String, NDArray> w, String s) {
        return xn.matMul(w.get("w_" + s)).mul(w.get("tau_" + s)).add(w.get("b_" + s)).tanh().mul(w.get("gamma_" + s));
    }

    /** One block's stream update: x' = H_res x + H_post^T f, with f = F(H_pre x) of shape (..., C). */
    public static NDArray aggregate(NDArray pre, NDArray x) {
        return pre.expandDims(-2).matMul(x).squeeze(-2);
    }

    public static NDArray merge(Maps m, NDArray x, NDArray f) {
        return m.res().matMul(x).add(m.post().expandDims(-1).mul(f.expandDims(-2)));
    }
}
