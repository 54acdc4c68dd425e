// A LayerNorm row in one warp's registers, shared by layernorm.cu and the stream maps' fused aggregate (streams.cu), so
// both give the same bits: lane l owns columns 4 (32 k + l) .. + 3, k < LN_FWD_K (rows of at most 128·LN_FWD_K
// columns, C % 4 == 0), read once by row(c, a); mean, then the centred variance, from registers; needs bf16.cuh.

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

constexpr int LN_FWD_K = 8;

// o = (x - mean) * rstd * gamma + beta for the row that row(c, a) reads (a = its 4 values at column c); lane 0 writes
// *mean and *rstd = 1 / sqrt(var + eps).
template <typename T, typename Row>
__device__ __forceinline__ void layernorm_row_regs(T* o, float* mean, float* rstd, Row row, const float* gamma,
                                                   const float* beta, int C, float eps) {
    const int lane = threadIdx.x % 32;
    float a[LN_FWD_K][4];
    float s = 0.f;
#pragma unroll
    for (int k = 0; k < LN_FWD_K; k++) {
        int c = (k * 32 + lane) * 4;
        if (c < C) {
            row(c, a[k]);
#pragma unroll
            for (int j = 0; j < 4; j++) s += a[k][j];
        }
    }
    float m = warp_sum(s) / C;
    float v = 0.f;
#pragma unroll
    for (int k = 0; k < LN_FWD_K; k++)
        if ((k * 32 + lane) * 4 < C)
#pragma unroll
            for (int j = 0; j < 4; j++) v += (a[k][j] - m) * (a[k][j] - m);
    float r = rsqrtf(warp_sum(v) / C + eps);
#pragma unroll
    for (int k = 0; k < LN_FWD_K; k++) {
        int c = (k * 32 + lane) * 4;
        if (c < C) {
            float g[4], b[4];
            loadv<4>(gamma + c, g);
            loadv<4>(beta + c, b);
#pragma unroll
            for (int j = 0; j < 4; j++) a[k][j] = (a[k][j] - m) * r * g[j] + b[j];
            storev<4>(o + c, a[k]);
        }
    }
    if (lane == 0) { *mean = m; *rstd = r; }
}
