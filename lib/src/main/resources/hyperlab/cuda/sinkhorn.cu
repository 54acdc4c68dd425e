// mHC's Sinkhorn-Knopp, fused: one thread projects one token's n x n matrix exp(logits) in registers
// (n <= 8), alternating column and row normalisation as in seed 001 §4.2.3. Subtracting the matrix's
// max logit first scales exp(.) by a constant, which the first column normalisation cancels exactly:
// same result as the paper's exp(logits), without overflow up to a logit spread of ~88.

#define SINKHORN_MAX_N 8

extern "C" __global__ void sinkhorn_f32(const float* __restrict__ logits, float* __restrict__ out,
                                        int tokens, int n, int iterations) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= tokens || n > SINKHORN_MAX_N) return;
    const float* l = logits + (size_t)t * n * n;
    float m[SINKHORN_MAX_N * SINKHORN_MAX_N];
    float mx = __int_as_float(0xff800000);   // -inf without a math header (NVRTC has none by default)
    for (int i = 0; i < n * n; i++) mx = fmaxf(mx, l[i]);
    for (int i = 0; i < n * n; i++) m[i] = expf(l[i] - mx);
    for (int it = 0; it < iterations; it++) {
        for (int j = 0; j < n; j++) {
            float s = 0.f;
            for (int i = 0; i < n; i++) s += m[i * n + j];
            float inv = 1.f / s;
            for (int i = 0; i < n; i++) m[i * n + j] *= inv;
        }
        for (int i = 0; i < n; i++) {
            float s = 0.f;
            for (int j = 0; j < n; j++) s += m[i * n + j];
            float inv = 1.f / s;
            for (int j = 0; j < n; j++) m[i * n + j] *= inv;
        }
    }
    float* o = out + (size_t)t * n * n;
    for (int i = 0; i < n * n; i++) o[i] = m[i];
}
