package hyperlab.nn;

/** How the hyper-connection biases start; both keep H_res at (or next to) the identity. */
public enum MapInit {
    /**
     * Exactly seed 003 Appendix G: W = 0, α = τ = 0.01, γ = 1, b_pre = b_post = −1 except one entry 1,
     * HC b_res = I, mHC b_res = −8 off the diagonal, mHC-lite −8 but the identity's weight 0, sHC b_S = 4.
     * H_res starts within ~1e-3 of I, but σ(±1) gates make the first forward differ from RC's.
     */
    PAPER,
    /**
     * As PAPER for H_res, but H_pre sums to 1 (b_pre = logit(1/n)) and H_post = 1 (b_post = 0), so copied
     * streams stay identical and the model's logits equal the RC model's at step 0.
     */
    RC_EXACT
}
