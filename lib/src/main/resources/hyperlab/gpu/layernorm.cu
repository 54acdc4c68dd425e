// LayerNorm over the last dimension (nanoGPT's pre-norm and ln_f): one warp per row.
// out = (x - mean) * rstd * gamma + beta with rstd = 1 / sqrt(var + eps); mean and rstd are kept for the backward.
// The forward writes fp32, or bf16 for the bf16 engine, whose GEMMs are its only readers (needs bf16.cuh and layernorm.cuh,
// whose row in registers the fused aggregate of streams.cu shares); its input is fp32, or bf16 where the bf16 engine
// keeps bf16 streams (their aggregate h). The backward's dout (the GEMM's gradient of the output) is fp32, or bf16 in
// the bf16 engine; its x is the forward's input.
// Lane l owns columns V·l + 32·V·k (V = 4 where Kernels found C a multiple of 4 and the rows 16-byte aligned, else 1),
// so a warp moves 32·V consecutive values per access.

template <typename T, typename TX, int V>
__device__ void layernorm_rows(T* out, float* mean, float* rstd, const TX* x, const float* gamma, const float* beta,
                               int N, int C, float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= N) return;
    const TX* xr = x + (long)row * C;
    float s = 0.f;
    for (int c = lane * V; c < C; c += 32 * V) {
        float a[V];
        loadv<V>(xr + c, a);
#pragma unroll
        for (int j = 0; j < V; j++) s += a[j];
    }
    float m = warp_sum(s) / C;
    float v = 0.f;
    for (int c = lane * V; c < C; c += 32 * V) {
        float a[V];
        loadv<V>(xr + c, a);
#pragma unroll
        for (int j = 0; j < V; j++) v += (a[j] - m) * (a[j] - m);
    }
    float r = rsqrtf(warp_sum(v) / C + eps);
    T* o = out + (long)row * C;
    for (int c = lane * V; c < C; c += 32 * V) {
        float a[V], g[V], b[V];
        loadv<V>(xr + c, a);
        loadv<V>(gamma + c, g);
        loadv<V>(beta + c, b);
#pragma unroll
        for (int j = 0; j < V; j++) a[j] = (a[j] - m) * r * g[j] + b[j];
        storev<V>(o + c, a);
    }
    if (lane == 0) { mean[row] = m; rstd[row] = r; }
}

// The same for rows of at most 128·LN_FWD_K columns with V = 4, kept in registers (layernorm.cuh): the row is read
// from memory once instead of three times (the same sums in the same order: the same bits).
template <typename T, typename TX>
__device__ void layernorm_rows_regs(T* out, float* mean, float* rstd, const TX* x, const float* gamma, const float* beta,
                                    int N, int C, float eps) {
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32;
    if (row >= N) return;
    const TX* xr = x + (long)row * C;
    layernorm_row_regs(out + (long)row * C, mean + row, rstd + row, [&](int c, float (&a)[4]) { loadv<4>(xr + c, a); },
                       gamma, beta, C, eps);
}

template <typename T, typename TX>
__device__ __forceinline__ void layernorm_forward_any(T* out, float* mean, float* rstd, const TX* x, const float* gamma,
                                                      const float* beta, int N, int C, float eps, int v) {
    if (v == 4 && C <= 128 * LN_FWD_K) layernorm_rows_regs<T, TX>(out, mean, rstd, x, gamma, beta, N, C, eps);
    else if (v == 4) layernorm_rows<T, TX, 4>(out, mean, rstd, x, gamma, beta, N, C, eps);
    else layernorm_rows<T, TX, 1>(out, mean, rstd, x, gamma, beta, N, C, eps);
}
// named by what differs from fp32: _bf16 output, _xbf16 input
#define LN_FWD_ARGS(T, TX) T* out, float* mean, float* rstd, const TX* x, const float* gamma, const float* beta, int N, int C, \
        float eps, int v
#define LN_FWD_BODY layernorm_forward_any(out, mean, rstd, x, gamma, beta, N, C, eps, v)
extern "C" __global__ void layernorm_forward(LN_FWD_ARGS(float, float)) { LN_FWD_BODY; }
extern "C" __global__ void layernorm_forward_bf16(LN_FWD_ARGS(bf16_t, float)) { LN_FWD_BODY; }
extern "C" __global__ void layernorm_forward_bf16_xbf16(LN_FWD_ARGS(bf16_t, bf16_t)) { LN_FWD_BODY; }

// sum[0..V) = the sum over k < n of p[k·stride + 0..V), read V floats at a time (p 4V-byte aligned)
template <int V>
__device__ __forceinline__ void sum_slices(float (&sum)[V], const float* p, int n, int stride) {
#pragma unroll
    for (int j = 0; j < V; j++) sum[j] = 0.f;
    for (int k = 0; k < n; k++) {
        Pack<float, V> t = *reinterpret_cast<const Pack<float, V>*>(p + (long)k * stride);
#pragma unroll
        for (int j = 0; j < V; j++) sum[j] += t.v[j];
    }
}

// The block's end: the warps' dgamma/dbeta slices in shared memory (warps x [dgamma C | dbeta C]) summed and added into
// the globals, V adjacent columns a thread in one reduction each (redv: V = 4 where Kernels found them 16-byte aligned,
// a quarter of the L2 atomics, which every block adds to the same addresses); likewise the warps' dsum slices (warps x C
// after those) where dsum is not null.
template <int V>
__device__ void add_warp_slices(float* dgamma, float* dbeta, float* dsum, const float* sh, int warps, int C) {
    __syncthreads();
    const float* ss = sh + (long)warps * 2 * C;
    for (int c = threadIdx.x * V; c < C; c += blockDim.x * V) {
        float g[V], bb[V], s[V];
        sum_slices<V>(g, sh + c, warps, 2 * C);
        sum_slices<V>(bb, sh + C + c, warps, 2 * C);
        redv<V>(dgamma + c, g);
        redv<V>(dbeta + c, bb);
        if (dsum) {
            sum_slices<V>(s, ss + c, warps, C);
            redv<V>(dsum + c, s);
        }
    }
}

// s[0..3] += v[0..3] for a 16-byte aligned slice entry: one shared-memory read and one write of 16 bytes.
__device__ __forceinline__ void add4(float* s, const float* v) {
    float4 t = *reinterpret_cast<float4*>(s);
    t.x += v[0]; t.y += v[1]; t.z += v[2]; t.w += v[3];
    *reinterpret_cast<float4*>(s) = t;
}

// This warp's slices of shared memory, zeroed: dgamma's and dbeta's (sh + w·2C, C floats each) and, where dsum is not
// null, dsum's (after every warp's two; else null): the column sums of dx in fp32, for RC's c_proj bias gradient (the
// residual's gradient is the projection's output gradient), so its GEMM needs no epilogue. add_warp_slices adds them.
struct Slices { float *g, *b, *s; };
__device__ Slices warp_slices(float* sh, const float* dsum, int warps, int w, int lane, int C) {
    Slices sl{sh + (long)w * 2 * C, sh + (long)w * 2 * C + C, dsum ? sh + (long)warps * 2 * C + (long)w * C : nullptr};
    for (int c = lane; c < 2 * C; c += 32) sl.g[c] = 0.f;
    if (sl.s) for (int c = lane; c < C; c += 32) sl.s[c] = 0.f;
    __syncwarp();
    return sl;
}

// dx = rstd * (g - mean(g) - xhat * mean(g * xhat)) with g = dout * gamma, written (acc = 0) or added (acc = 1: the
// residual's gradient is already in dx); dgamma += sum_rows dout * xhat, dbeta += sum_rows dout. Every warp sums its
// rows' dgamma/dbeta shares into its own slice of shared memory (a lane owns its columns, so no atomics there), and
// the block adds its slices into the globals once at the end; dsum (or null) += the column sums of dx in fp32.
// Dynamic shared memory: warps * 2C floats, warps * 3C with dsum.
template <typename TO, typename TD, typename TX, int V>
__device__ void layernorm_backward_rows(TO* dx, float* dgamma, float* dbeta, float* dsum, const TD* dout, const TX* x,
                                        const float* gamma, const float* mean, const float* rstd, int N, int C, int acc) {
    extern __shared__ float sh[];
    int warps = blockDim.x / 32, w = threadIdx.x / 32, lane = threadIdx.x % 32;
    const Slices sl = warp_slices(sh, dsum, warps, w, lane, C);
    float *sg = sl.g, *sb = sl.b, *sd = sl.s;
    for (int row = blockIdx.x * warps + w; row < N; row += gridDim.x * warps) {
        const TX* xr = x + (long)row * C;
        const TD* dr = dout + (long)row * C;
        float m = mean[row], r = rstd[row];
        float a = 0.f, b = 0.f;
        for (int c = lane * V; c < C; c += 32 * V) {
            float xv[V], dv[V], gv[V];
            loadv<V>(xr + c, xv);
            loadv<V>(dr + c, dv);
            loadv<V>(gamma + c, gv);
#pragma unroll
            for (int j = 0; j < V; j++) {
                float g = dv[j] * gv[j];
                a += g;
                b += g * (xv[j] - m) * r;
            }
        }
        a = warp_sum(a) / C;
        b = warp_sum(b) / C;
        TO* o = dx + (long)row * C;
        for (int c = lane * V; c < C; c += 32 * V) {
            float xv[V], dv[V], gv[V], ov[V];
            loadv<V>(xr + c, xv);
            loadv<V>(dr + c, dv);
            loadv<V>(gamma + c, gv);
            if (acc) loadv<V>(o + c, ov);
#pragma unroll
            for (int j = 0; j < V; j++) {
                float xh = (xv[j] - m) * r;
                float d = r * (dv[j] * gv[j] - a - xh * b);
                ov[j] = acc ? ov[j] + d : d;
                sg[c + j] += dv[j] * xh;
                sb[c + j] += dv[j];
            }
            storev<V>(o + c, ov);
            if (sd)
#pragma unroll
                for (int j = 0; j < V; j++) sd[c + j] += ov[j];
        }
    }
    add_warp_slices<V>(dgamma, dbeta, dsum, sh, warps, C);
}

template <typename TO, typename TD, typename TX>
__device__ __forceinline__ void layernorm_backward_any(TO* dx, float* dgamma, float* dbeta, float* dsum, const TD* dout,
        const TX* x, const float* gamma, const float* mean, const float* rstd, int N, int C, int acc, int v) {
    if (v == 4) layernorm_backward_rows<TO, TD, TX, 4>(dx, dgamma, dbeta, dsum, dout, x, gamma, mean, rstd, N, C, acc);
    else layernorm_backward_rows<TO, TD, TX, 1>(dx, dgamma, dbeta, dsum, dout, x, gamma, mean, rstd, N, C, acc);
}
// named by what differs from fp32: _dbf16 dout, _xbf16 x, _obf16 dx (the input's gradient)
#define LN_BWD_ARGS(TO, TD, TX) TO* dx, float* dgamma, float* dbeta, float* dsum, const TD* dout, const TX* x, \
        const float* gamma, const float* mean, const float* rstd, int N, int C, int acc, int v
#define LN_BWD_BODY layernorm_backward_any(dx, dgamma, dbeta, dsum, dout, x, gamma, mean, rstd, N, C, acc, v)
extern "C" __global__ void layernorm_backward(LN_BWD_ARGS(float, float, float)) { LN_BWD_BODY; }
extern "C" __global__ void layernorm_backward_dbf16(LN_BWD_ARGS(float, bf16_t, float)) { LN_BWD_BODY; }
extern "C" __global__ void layernorm_backward_dbf16_xbf16(LN_BWD_ARGS(float, bf16_t, bf16_t)) { LN_BWD_BODY; }
extern "C" __global__ void layernorm_backward_dbf16_xbf16_obf16(LN_BWD_ARGS(bf16_t, bf16_t, bf16_t)) { LN_BWD_BODY; }

// The same backward for rows of at most 128·K columns (V = 4): a lane keeps its K chunks of x̂ and dout in registers,
// so each row is read from memory once rather than twice. dgamma/dbeta (and dsum) accumulate in the warp's slices of
// shared memory as in layernorm_backward_rows, a float4 read-modify-write per chunk: in registers they took 48 of the
// kernel's 128 registers (with spills once dsum came), which held an SM to 16 warps, and the kernel to 1.7-2.3 TB/s
// at preset M on the H100 where the forward, at 56 registers, reaches 2.95. Same sums in the same order as
// layernorm_backward_rows. dxlo (or null): dx rounded to bf16 as well, the operand the next block's backward GEMMs
// read, so they need no cast pass over dx; or in its place where dx is null (bf16 streams' dh, read only in bf16).
// dsum (or null) += the column sums of dx in fp32. Dynamic shared memory: warps * 2C floats, warps * 3C with dsum.
// ACC (dx += the row's gradient; RC's residual) loads dx's chunks in the first pass with x and dout, so that read's
// latency hides behind the row's warp sums instead of following them; dout stays packed (8 bytes a bf16 chunk) to leave
// registers for dx's. On the H100 at preset M that took the kernel 0.0902 -> 0.0789 ms with two blocks an SM and one
// wave of them (layernorm-backward-variants-h100.json; the same code at three blocks an SM spilled).
template <typename TD, typename TX, int K, bool ACC>
__device__ void layernorm_backward_regs(float* dx, bf16_t* dxlo, float* dgamma, float* dbeta, float* dsum, const TD* dout,
                                        const TX* x, const float* gamma, const float* mean, const float* rstd, int N, int C) {
    extern __shared__ float sh[];
    int warps = blockDim.x / 32, w = threadIdx.x / 32, lane = threadIdx.x % 32;
    const Slices sl = warp_slices(sh, dsum, warps, w, lane, C);
    float *sg = sl.g, *sb = sl.b, *sd = sl.s;
    for (int row = blockIdx.x * warps + w; row < N; row += gridDim.x * warps) {
        const TX* xr = x + (long)row * C;
        const TD* dr = dout + (long)row * C;
        float* o = dx ? dx + (long)row * C : nullptr;   // (ACC needs dx)
        float m = mean[row], r = rstd[row];
        float xh[K][4], ov[ACC ? K : 1][4];
        Pack<TD, 4> dp[K];
        float a = 0.f, b = 0.f;
#pragma unroll
        for (int k = 0; k < K; k++) {
            int c = (k * 32 + lane) * 4;
            if (c < C) {
                float gv[4], dv[4];
                loadv<4>(xr + c, xh[k]);
                dp[k] = *reinterpret_cast<const Pack<TD, 4>*>(dr + c);
                if constexpr (ACC) loadv<4>(o + c, ov[k]);
                loadv<4>(gamma + c, gv);
                unpackv(dp[k], dv);
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    xh[k][j] = (xh[k][j] - m) * r;
                    float g = dv[j] * gv[j];
                    a += g;
                    b += g * xh[k][j];
                }
            }
        }
        a = warp_sum(a) / C;
        b = warp_sum(b) / C;
#pragma unroll
        for (int k = 0; k < K; k++) {
            int c = (k * 32 + lane) * 4;
            if (c < C) {
                float gv[4], dv[4], gx[4];
                float (&out)[4] = ov[ACC ? k : 0];
                loadv<4>(gamma + c, gv);
                unpackv(dp[k], dv);
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    float d = r * (dv[j] * gv[j] - a - xh[k][j] * b);
                    out[j] = ACC ? out[j] + d : d;
                    gx[j] = dv[j] * xh[k][j];
                }
                add4(sg + c, gx);
                add4(sb + c, dv);
                if (dx) storev<4>(o + c, out);
                if (dxlo) storev<4>(dxlo + (long)row * C + c, out);
                if (sd) add4(sd + c, out);
            }
        }
    }
    add_warp_slices<4>(dgamma, dbeta, dsum, sh, warps, C);
}

// Kernels compiles this file once more per width with -DLN_BWD_K=ceil(C / 128) (at most 8), so the kernel has the
// registers its own K needs: without ACC, up to K = 6 (C = 768) three blocks of 8 warps fit on an SM, with ACC two
// (Kernels.lnBackwardBlocksPerSm).
#ifndef LN_BWD_K
#define LN_BWD_K 6   // Kernels.LN_REGS_DEFAULT_CHUNKS: the width the plain compile serves
#endif
#define LN_BWD_REGS_ARGS(TD, TX) float* dx, bf16_t* dxlo, float* dgamma, float* dbeta, float* dsum, const TD* dout, \
        const TX* x, const float* gamma, const float* mean, const float* rstd, int N, int C
#define LN_BWD_REGS_BODY(TD, TX, ACC) \
    layernorm_backward_regs<TD, TX, LN_BWD_K, ACC>(dx, dxlo, dgamma, dbeta, dsum, dout, x, gamma, mean, rstd, N, C)
#define LN_BWD_BLOCKS (LN_BWD_K <= 6 ? 3 : 2)
extern "C" __global__ __launch_bounds__(256, LN_BWD_BLOCKS) void layernorm_backward_regs_k(LN_BWD_REGS_ARGS(float, float)) {
    LN_BWD_REGS_BODY(float, float, false);
}
extern "C" __global__ __launch_bounds__(256, LN_BWD_BLOCKS) void layernorm_backward_regs_k_dbf16(LN_BWD_REGS_ARGS(bf16_t, float)) {
    LN_BWD_REGS_BODY(bf16_t, float, false);
}
extern "C" __global__ __launch_bounds__(256, LN_BWD_BLOCKS) void layernorm_backward_regs_k_dbf16_xbf16(LN_BWD_REGS_ARGS(bf16_t, bf16_t)) {
    LN_BWD_REGS_BODY(bf16_t, bf16_t, false);
}
extern "C" __global__ __launch_bounds__(256, 2) void layernorm_backward_regs_k_acc(LN_BWD_REGS_ARGS(float, float)) {
    LN_BWD_REGS_BODY(float, float, true);
}
extern "C" __global__ __launch_bounds__(256, 2) void layernorm_backward_regs_k_acc_dbf16(LN_BWD_REGS_ARGS(bf16_t, float)) {
    LN_BWD_REGS_BODY(bf16_t, float, true);
}
extern "C" __global__ __launch_bounds__(256, 2) void layernorm_backward_regs_k_acc_dbf16_xbf16(LN_BWD_REGS_ARGS(bf16_t, bf16_t)) {
    LN_BWD_REGS_BODY(bf16_t, bf16_t, true);
}
