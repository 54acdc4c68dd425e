// LayerNorm over the last dimension (nanoGPT's pre-norm and ln_f): one warp per row.
// out = (x - mean) * rstd * gamma + beta with rstd = 1 / sqrt(var + eps); mean and rstd are kept for the backward.
// The forward writes fp32, or bf16 for the bf16 engine, whose GEMMs are its only readers (needs bf16.cuh).

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

template <typename T>
__device__ void layernorm_rows(T* out, float* mean, float* rstd, const float* x, const float* gamma, const float* beta,
                               int N, int C, float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const float* xr = x + (long)row * C;
    float s = 0.f;
    for (int c = lane; c < C; c += 32) s += xr[c];
    float m = warp_sum(s) / C;
    float v = 0.f;
    for (int c = lane; c < C; c += 32) { float d = xr[c] - m; v += d * d; }
    float r = rsqrtf(warp_sum(v) / C + eps);
    T* o = out + (long)row * C;
    for (int c = lane; c < C; c += 32) store(&o[c], (xr[c] - m) * r * gamma[c] + beta[c]);
    if (lane == 0) { mean[row] = m; rstd[row] = r; }
}

extern "C" __global__ void layernorm_forward(float* out, float* mean, float* rstd, const float* x,
                                             const float* gamma, const float* beta, int N, int C, float eps) {
    layernorm_rows(out, mean, rstd, x, gamma, beta, N, C, eps);
}

extern "C" __global__ void layernorm_forward_bf16(bf16_t* out, float* mean, float* rstd, const float* x,
                                                  const float* gamma, const float* beta, int N, int C, float eps) {
    layernorm_rows(out, mean, rstd, x, gamma, beta, N, C, eps);
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dout * gamma (overwrites dx);
// dgamma += sum_rows dout * xhat, dbeta += sum_rows dout, through per-block shared sums (smem: 2*C floats).
extern "C" __global__ void layernorm_backward(float* dx, float* dgamma, float* dbeta, const float* dout,
                                              const float* x, const float* gamma, const float* mean,
                                              const float* rstd, int N, int C) {
    extern __shared__ float sh[];
    float* sg = sh;
    float* sb = sh + C;
    for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) sh[c] = 0.f;
    __syncthreads();
    int warps = blockDim.x / 32, lane = threadIdx.x % 32;
    for (int row = blockIdx.x * warps + threadIdx.x / 32; row < N; row += gridDim.x * warps) {
        const float* xr = x + (long)row * C;
        const float* dr = dout + (long)row * C;
        float m = mean[row], r = rstd[row];
        float a = 0.f, b = 0.f;
        for (int c = lane; c < C; c += 32) {
            float g = dr[c] * gamma[c], xh = (xr[c] - m) * r;
            a += g;
            b += g * xh;
        }
        a = warp_sum(a) / C;
        b = warp_sum(b) / C;
        float* o = dx + (long)row * C;
        for (int c = lane; c < C; c += 32) {
            float xh = (xr[c] - m) * r;
            o[c] = r * (dr[c] * gamma[c] - a - xh * b);
            atomicAdd(&sg[c], dr[c] * xh);
            atomicAdd(&sb[c], dr[c]);
        }
    }
    __syncthreads();
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        atomicAdd(&dgamma[c], sg[c]);
        atomicAdd(&dbeta[c], sb[c]);
    }
}
