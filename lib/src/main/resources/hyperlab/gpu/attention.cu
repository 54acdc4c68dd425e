// Causal multi-head self-attention, flash style: online softmax over key tiles, no T x T matrix in memory.
// Layout (nanoGPT / CausalSelfAttention): qkv is row-major [B, T, 3C] with q = [:, :, 0:C], k = [C:2C], v = [2C:3C];
// head h uses columns h*HD .. (h+1)*HD of each; y is [B, T, C] in the same head-interleaved layout; lse is F32
// [B, H, T], the natural-log logsumexp of each row's scaled scores, kept for the backward, which recomputes the
// probabilities tile by tile: P = exp(scale * q.k - lse), dS = P * (dP - delta) with delta = rowsum(dy * y).
// dqkv is fully overwritten (every element of q, k and v of every token gets its gradient).
//
// Two families, one source, compiled per head size (-DHEAD_DIM=d):
//  * SIMT kernels (attn_*_simt_f32 / _bf16): one thread per query (or key) row, K/V (or Q/dO) tiles in shared
//    memory, fp32 math; any d <= 128. The fp32 path, and the bf16 fallback when d is not a multiple of 16.
//  * Tensor-core kernels (attn_*_tc_bf16): FlashAttention-2 style mma.sync.m16n8k16 bf16 with fp32 accumulation,
//    4 warps x 16 rows per block; d a multiple of 16. Tiles reach shared memory by cp.async, two stages deep, and
//    the operands reach registers by ldmatrix (.trans where the tile's rows are the k dimension, so no tile is ever
//    transposed in memory). The S accumulator fragment is re-used as the A operand of P.V (the C layout of two n8
//    tiles equals the A layout of one k16 chunk), so P never leaves registers. Backward: one pass, a block owns 64
//    keys and walks the query tiles; dQ is summed over the key blocks with fp32 atomics into a scratch buffer and
//    written as bf16 by a last small kernel (the order of the atomics moves dQ's last fp32 bit from run to run).
// bf16 values travel as their raw 16-bit patterns (unsigned short; needs bf16.cuh, async.cuh, mma.cuh and columns.cuh in
// front, for the conversions, load/store, cp.async, the mma.sync / ldmatrix fragments and the bias gradient's column
// sums), which also lets the CPU emulator run every kernel here (mma.cuh emulates mma.sync through shared memory).
// The tensor-core backward also adds the c_attn bias gradient, the column sums of dqkv as stored, into dbias (F32
// [3C], or null); the SIMT path leaves it to gelu.cu's bias kernel.

#ifndef HEAD_DIM
#define HEAD_DIM 64
#endif

#define NEG_INF (-__int_as_float(0x7f800000))   // NVRTC has no INFINITY
constexpr int HD = HEAD_DIM;

// Helpers have internal linkage: the emulator loads one shared library per head size into the same process, and
// static locals (__shared__ arrays) of inline functions with external linkage would be merged across them.
namespace {

// ---------------------------------------------------------------------------------------------------------------
// SIMT kernels (fp32 math). Block: 64 threads, one row each; grid (ceil(T/64), B*H).

constexpr int SR = 64;   // rows per block
constexpr int SK = 32;   // rows of the shared tile

template <typename E>
__device__ __forceinline__ void fwd_simt(const E* qkv, E* y, float* lse, int H, int Tn, float scale) {
    __shared__ float Ks[SK][HD];
    __shared__ float Vs[SK][HD];
    const int C = H * HD;
    const long ld3 = 3L * C;
    const int bh = blockIdx.y, b = bh / H, h = bh % H;
    const int blk = gridDim.x - 1 - blockIdx.x;          // longest rows first
    const int i = blk * SR + threadIdx.x;
    const bool valid = i < Tn;
    const E* base = qkv + (long)b * Tn * ld3 + h * HD;
    float q[HD], o[HD];
#pragma unroll
    for (int c = 0; c < HD; c++) {
        q[c] = valid ? load(base + i * ld3 + c) * scale : 0.f;
        o[c] = 0.f;
    }
    float m = NEG_INF, l = 0.f;
    const int kend = min(Tn, blk * SR + SR);
    for (int k0 = 0; k0 < kend; k0 += SK) {
        __syncthreads();
        for (int e = threadIdx.x; e < SK * HD; e += SR) {
            int r = e / HD, c = e % HD, j = k0 + r;
            Ks[r][c] = j < Tn ? load(base + j * ld3 + C + c) : 0.f;
            Vs[r][c] = j < Tn ? load(base + j * ld3 + 2 * C + c) : 0.f;
        }
        __syncthreads();
        if (!valid) continue;
        const int n = min(SK, i - k0 + 1);
        for (int r = 0; r < n; r++) {
            float s = 0.f;
#pragma unroll
            for (int c = 0; c < HD; c++) s += q[c] * Ks[r][c];
            if (s > m) {                                     // new running max: rescale what was summed so far
                float corr = expf(m - s);
                l *= corr;
#pragma unroll
                for (int c = 0; c < HD; c++) o[c] *= corr;
                m = s;
            }
            float p = expf(s - m);
            l += p;
#pragma unroll
            for (int c = 0; c < HD; c++) o[c] += p * Vs[r][c];
        }
    }
    if (!valid) return;
    float inv = 1.f / l;
    E* yr = y + ((long)b * Tn + i) * C + h * HD;
#pragma unroll
    for (int c = 0; c < HD; c++) store(yr + c, o[c] * inv);
    lse[(long)bh * Tn + i] = m + logf(l);
}

// delta[b, h, t] = sum_c dy * y over the head's columns. Grid covers B*H*T threads.
template <typename E>
__device__ __forceinline__ void delta_rows(const E* dy, const E* y, float* delta, int H, int Tn, long rows) {
    long r = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const int C = H * HD;
    long bh = r / Tn;
    int t = (int)(r % Tn), b = (int)(bh / H), h = (int)(bh % H);
    long off = ((long)b * Tn + t) * C + h * HD;
    float s = 0.f;
    for (int c = 0; c < HD; c++) s += load(dy + off + c) * load(y + off + c);
    delta[r] = s;
}

// dK, dV: one thread per key j, walking the queries i >= j in shared tiles of Q, dO, lse, delta.
template <typename E>
__device__ __forceinline__ void dkdv_simt(const E* qkv, const E* dy, const float* lse, const float* delta, E* dqkv,
                                          int H, int Tn, float scale) {
    __shared__ float Qs[SK][HD];
    __shared__ float Os[SK][HD];
    __shared__ float Ls[SK];
    __shared__ float Ds[SK];
    const int C = H * HD;
    const long ld3 = 3L * C;
    const int bh = blockIdx.y, b = bh / H, h = bh % H;
    const int j = blockIdx.x * SR + threadIdx.x;   // block 0 has the most queries: it starts first
    const bool valid = j < Tn;
    const E* base = qkv + (long)b * Tn * ld3 + h * HD;
    const E* dyb = dy + (long)b * Tn * C + h * HD;
    float k[HD], v[HD], dk[HD], dv[HD];
#pragma unroll
    for (int c = 0; c < HD; c++) {
        k[c] = valid ? load(base + j * ld3 + C + c) : 0.f;
        v[c] = valid ? load(base + j * ld3 + 2 * C + c) : 0.f;
        dk[c] = 0.f;
        dv[c] = 0.f;
    }
    for (int q0 = blockIdx.x * SR; q0 < Tn; q0 += SK) {
        __syncthreads();
        for (int e = threadIdx.x; e < SK * HD; e += SR) {
            int r = e / HD, c = e % HD, i = q0 + r;
            Qs[r][c] = i < Tn ? load(base + i * ld3 + c) : 0.f;
            Os[r][c] = i < Tn ? load(dyb + (long)i * C + c) : 0.f;
        }
        if (threadIdx.x < SK) {
            int i = q0 + threadIdx.x;
            Ls[threadIdx.x] = i < Tn ? lse[(long)bh * Tn + i] : 0.f;
            Ds[threadIdx.x] = i < Tn ? delta[(long)bh * Tn + i] : 0.f;
        }
        __syncthreads();
        if (!valid) continue;
        const int r0 = max(0, j - q0), r1 = min(SK, Tn - q0);
        for (int r = r0; r < r1; r++) {
            float s = 0.f, dp = 0.f;
#pragma unroll
            for (int c = 0; c < HD; c++) {
                s += Qs[r][c] * k[c];
                dp += Os[r][c] * v[c];
            }
            float p = expf(s * scale - Ls[r]);
            float ds = p * (dp - Ds[r]);
#pragma unroll
            for (int c = 0; c < HD; c++) {
                dv[c] += p * Os[r][c];
                dk[c] += ds * Qs[r][c];
            }
        }
    }
    if (!valid) return;
    E* out = dqkv + ((long)b * Tn + j) * ld3 + h * HD;
#pragma unroll
    for (int c = 0; c < HD; c++) {
        store(out + C + c, dk[c] * scale);
        store(out + 2 * C + c, dv[c]);
    }
}

// dQ: one thread per query i, walking the keys j <= i in shared tiles of K and V.
template <typename E>
__device__ __forceinline__ void dq_simt(const E* qkv, const E* dy, const float* lse, const float* delta, E* dqkv,
                                        int H, int Tn, float scale) {
    __shared__ float Ks[SK][HD];
    __shared__ float Vs[SK][HD];
    const int C = H * HD;
    const long ld3 = 3L * C;
    const int bh = blockIdx.y, b = bh / H, h = bh % H;
    const int blk = gridDim.x - 1 - blockIdx.x;
    const int i = blk * SR + threadIdx.x;
    const bool valid = i < Tn;
    const E* base = qkv + (long)b * Tn * ld3 + h * HD;
    float q[HD], go[HD], dq[HD];
#pragma unroll
    for (int c = 0; c < HD; c++) {
        q[c] = valid ? load(base + i * ld3 + c) : 0.f;
        go[c] = valid ? load(dy + ((long)b * Tn + i) * C + h * HD + c) : 0.f;
        dq[c] = 0.f;
    }
    const float L = valid ? lse[(long)bh * Tn + i] : 0.f, Dl = valid ? delta[(long)bh * Tn + i] : 0.f;
    const int kend = min(Tn, blk * SR + SR);
    for (int k0 = 0; k0 < kend; k0 += SK) {
        __syncthreads();
        for (int e = threadIdx.x; e < SK * HD; e += SR) {
            int r = e / HD, c = e % HD, jj = k0 + r;
            Ks[r][c] = jj < Tn ? load(base + jj * ld3 + C + c) : 0.f;
            Vs[r][c] = jj < Tn ? load(base + jj * ld3 + 2 * C + c) : 0.f;
        }
        __syncthreads();
        if (!valid) continue;
        const int n = min(SK, i - k0 + 1);
        for (int r = 0; r < n; r++) {
            float s = 0.f, dp = 0.f;
#pragma unroll
            for (int c = 0; c < HD; c++) {
                s += q[c] * Ks[r][c];
                dp += go[c] * Vs[r][c];
            }
            float ds = expf(s * scale - L) * (dp - Dl);
#pragma unroll
            for (int c = 0; c < HD; c++) dq[c] += ds * Ks[r][c];
        }
    }
    if (!valid) return;
    E* out = dqkv + ((long)b * Tn + i) * ld3 + h * HD;
#pragma unroll
    for (int c = 0; c < HD; c++) store(out + c, dq[c] * scale);
}

}  // namespace

extern "C" __global__ __launch_bounds__(64) void attn_fwd_simt_f32(const float* qkv, float* y, float* lse, int H, int Tn, float scale) {
    fwd_simt<float>(qkv, y, lse, H, Tn, scale);
}
extern "C" __global__ __launch_bounds__(64) void attn_fwd_simt_bf16(const bf16_t* qkv, bf16_t* y, float* lse, int H, int Tn, float scale) {
    fwd_simt<bf16_t>(qkv, y, lse, H, Tn, scale);
}
extern "C" __global__ void attn_delta_f32(const float* dy, const float* y, float* delta, int H, int Tn, long rows) {
    delta_rows<float>(dy, y, delta, H, Tn, rows);
}
extern "C" __global__ void attn_delta_bf16(const bf16_t* dy, const bf16_t* y, float* delta, int H, int Tn, long rows) {
    delta_rows<bf16_t>(dy, y, delta, H, Tn, rows);
}
extern "C" __global__ __launch_bounds__(64) void attn_dkdv_simt_f32(const float* qkv, const float* dy, const float* lse,
        const float* delta, float* dqkv, int H, int Tn, float scale) {
    dkdv_simt<float>(qkv, dy, lse, delta, dqkv, H, Tn, scale);
}
extern "C" __global__ __launch_bounds__(64) void attn_dkdv_simt_bf16(const bf16_t* qkv, const bf16_t* dy, const float* lse,
        const float* delta, bf16_t* dqkv, int H, int Tn, float scale) {
    dkdv_simt<bf16_t>(qkv, dy, lse, delta, dqkv, H, Tn, scale);
}
extern "C" __global__ __launch_bounds__(64) void attn_dq_simt_f32(const float* qkv, const float* dy, const float* lse,
        const float* delta, float* dqkv, int H, int Tn, float scale) {
    dq_simt<float>(qkv, dy, lse, delta, dqkv, H, Tn, scale);
}
extern "C" __global__ __launch_bounds__(64) void attn_dq_simt_bf16(const bf16_t* qkv, const bf16_t* dy, const float* lse,
        const float* delta, bf16_t* dqkv, int H, int Tn, float scale) {
    dq_simt<bf16_t>(qkv, dy, lse, delta, dqkv, H, Tn, scale);
}

// ---------------------------------------------------------------------------------------------------------------
// Tensor-core kernels (bf16 in/out, fp32 accumulation), HD % 16 == 0. Block: 128 threads = 4 warps x 16 rows.
// mma.m16n8k16 fragments (g = lane / 4, t = lane % 4), each 32-bit register two bf16, lower index in the low half:
//   A 16x16: a0 (row g, k 2t..2t+1), a1 (row g+8, k 2t..), a2 (row g, k 2t+8..), a3 (row g+8, k 2t+8..)
//   B 16x8:  b0 (k 2t..2t+1, col g), b1 (k 2t+8.., col g)
//   C 16x8:  c0, c1 (row g, cols 2t, 2t+1), c2, c3 (row g+8, cols 2t, 2t+1)

#if HEAD_DIM % 16 == 0

constexpr float LOG2E = 1.4426950408889634f;
constexpr float LN2 = 0.6931471805599453f;
#ifndef ATTN_BWD_KEYS
#define ATTN_BWD_KEYS 64
#endif
#ifndef ATTN_BWD_MIN_BLOCKS   // backward blocks per SM the registers are cut for (__launch_bounds__)
#define ATTN_BWD_MIN_BLOCKS 1
#endif
#ifndef ATTN_BWD_WARP_KEYS    // keys per backward warp: 16, or 32 (two m16 tiles that share each Q and dO fragment)
#define ATTN_BWD_WARP_KEYS 16
#endif
#ifndef ATTN_FWD_WARP_ROWS   // queries per forward warp: 16 or 32
#define ATTN_FWD_WARP_ROWS 16
#endif
#ifndef ATTN_FWD_KEYS         // keys per forward tile: 32 or 64
#define ATTN_FWD_KEYS 64
#endif
#ifndef ATTN_FWD_MIN_BLOCKS   // forward blocks per SM the registers are cut for (__launch_bounds__)
#define ATTN_FWD_MIN_BLOCKS 1
#endif
constexpr int FM = ATTN_FWD_WARP_ROWS / 16;              // m16 tiles per forward warp
constexpr int TR = 64 * FM;                              // queries per forward block (4 warps)
constexpr int TK = ATTN_FWD_KEYS;                        // keys per forward tile (Attention.java picks the three)
constexpr int BR = ATTN_BWD_KEYS;                        // keys per backward block (Attention.java picks it,
                                                         // ATTN_BWD_WARP_KEYS and ATTN_BWD_MIN_BLOCKS)
constexpr int KM = ATTN_BWD_WARP_KEYS / 16;              // m16 key tiles per backward warp
constexpr int BWARPS = BR / (16 * KM), BTHREADS = 32 * BWARPS;
constexpr int KP = HD + 8;                               // pitch of [rows][HD] tiles: rows 16 bytes apart mod 128, so
                                                         // the 8 row addresses of an ldmatrix hit distinct banks
constexpr int TQ_ = HD <= 32 && BR <= 64 ? 64 : HD <= 64 ? 32 : 16;  // queries per backward tile (with one key tile a
constexpr int TQ = TQ_ < 16 * BWARPS ? TQ_ : 16 * BWARPS;           // warp: two stages of Q, dO + K + dS under 48 KB),
                                                         // at most 16 a warp (each warp adds one m16 tile's dQ columns)
constexpr int MT = TQ / 16;                              // m16 tiles of a dQ tile: warp w computes tile w % MT ...
constexpr int NQ = (HD / 8 * MT + BWARPS - 1) / BWARPS;  // ... and its n8 tiles w / MT, w / MT + BWARPS / MT, ...
constexpr int SP = TQ + 8;                               // pitch of the backward's dS^T tile [BR][SP]
static_assert((FM == 1 || FM == 2) && (TK == 32 || TK == 64) && 4 * TK * KP * 2 <= 48 * 1024,
              "ATTN_FWD_WARP_ROWS: 16 or 32; ATTN_FWD_KEYS: 32 or 64 (two stages of K, V under 48 KB)");
// the backward's dynamic shared memory: two stages of [Q tile | dO tile], the block's K (dQ's B operand) and, with two
// key tiles a warp, V (their A fragments come from shared memory, not registers), dS^T (bf16), per stage lse and delta
constexpr int BWD_QO = 0, BWD_K = BWD_QO + 2 * 2 * TQ * KP * 2, BWD_V = BWD_K + BR * KP * 2,
              BWD_DS = BWD_V + (KM == 2 ? BR * KP * 2 : 0), BWD_LD = BWD_DS + BR * SP * 2, BWD_SMEM = BWD_LD + 2 * 2 * TQ * 4;
static_assert((KM == 1 || KM == 2) && BR % 32 == 0 && BR % (16 * KM) == 0 && BWARPS % MT == 0,
              "ATTN_BWD_KEYS: a multiple of 32 keys, and of 16 x the m16 tiles a warp (ATTN_BWD_WARP_KEYS: 16 or 32)");
static_assert(BWD_SMEM <= 227 * 1024, "ATTN_BWD_KEYS: the backward's tiles exceed 227 KB");

namespace {

__device__ __forceinline__ float quad_max(float v) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffffu, v, 2));
}

__device__ __forceinline__ float quad_sum(float v) {
    v += __shfl_xor_sync(0xffffffffu, v, 1);
    return v + __shfl_xor_sync(0xffffffffu, v, 2);
}

// Queues rows [r0, r0 + ROWS) of a [*, HD] matrix with row stride ld into the tile [ROWS][KP] (rows >= limit: zeros).
template <int ROWS, int THREADS = 128>
__device__ __forceinline__ void load_async(bf16_t* tile, const bf16_t* src, long ld, int r0, int limit) {
    for (int e = threadIdx.x; e < ROWS * (HD / 8); e += THREADS) {   // consecutive threads along a row: coalesced
        const int r = e / (HD / 8), c = (e % (HD / 8)) * 8;
        const bool ok = r0 + r < limit;
        cp16(tile + r * KP + c, src + (long)(ok ? r0 + r : 0) * ld + c, ok);
    }
}

// A fragments of 16 rows (row0 .. row0+15, rows >= limit read as 0) of a [*, HD] matrix in global memory.
__device__ __forceinline__ void load_a(unsigned (*a)[4], const bf16_t* src, long ld, int row0, int limit) {
    const int lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    const int r0 = row0 + g, r1 = row0 + g + 8;
#pragma unroll
    for (int kc = 0; kc < HD / 16; kc++) {
        int c = kc * 16 + 2 * t;
        a[kc][0] = r0 < limit ? ld32(src + (long)r0 * ld + c) : 0u;
        a[kc][1] = r1 < limit ? ld32(src + (long)r1 * ld + c) : 0u;
        a[kc][2] = r0 < limit ? ld32(src + (long)r0 * ld + c + 8) : 0u;
        a[kc][3] = r1 < limit ? ld32(src + (long)r1 * ld + c + 8) : 0u;
    }
}

// acc[m][N/8][4] += A_m(16 x HD, fragments a[m]) . B^T for m < M, where B^T's columns are the rows of a tile [N][KP]:
// one ldmatrix.x4 gives the b0, b1 of two n8 tiles (rows 0-7 | 8-15 of 16) for one k16 chunk, shared by the M products
// (shared memory reads per product fall as 1 / M).
template <int N, int M>
__device__ __forceinline__ void mma_abt(float (*acc)[N / 8][4], const unsigned (*a)[HD / 16][4], const bf16_t* tile) {
    const int lane = threadIdx.x % 32;
    const bf16_t* p = tile + ((lane >> 4) * 8 + (lane & 7)) * KP + ((lane >> 3) & 1) * 8;
#pragma unroll
    for (int np = 0; np < N / 16; np++) {
#pragma unroll
        for (int kc = 0; kc < HD / 16; kc++) {
            unsigned b[4];
            ldsm4<false>(b, p + np * 16 * KP + kc * 16);
#pragma unroll
            for (int m = 0; m < M; m++) {
                mma_bf16(acc[m][2 * np], a[m][kc], b);
                mma_bf16(acc[m][2 * np + 1], a[m][kc], b + 2);
            }
        }
    }
}

// acc[m][n], acc[m][n + 1] += a[m] . (b[0..1] | b[2..3]) for m < M: two n8 tiles' M products that share one ldmatrix.x4.
template <int M, int NT>
__device__ __forceinline__ void mma_m_tiles(float (*acc)[NT][4], int n, const unsigned (*a)[4], const unsigned* b) {
#pragma unroll
    for (int m = 0; m < M; m++) {
        mma_bf16(acc[m][n], a[m], b);
        mma_bf16(acc[m][n + 1], a[m], b + 2);
    }
}

// As mma_abt, with A's M m16 tiles read from rows 0 .. 16M-1 of the tile a [*][KP] (ldmatrix, once per k16 chunk) instead
// of registers: the backward's keys when a warp has two tiles of them and no registers left to hold their fragments.
template <int N, int M>
__device__ __forceinline__ void mma_abt_shared(float (*acc)[N / 8][4], const bf16_t* a, const bf16_t* tile) {
    const int lane = threadIdx.x % 32;
    const bf16_t* pa = a + (lane & 15) * KP + (lane >> 4) * 8;
    const bf16_t* p = tile + ((lane >> 4) * 8 + (lane & 7)) * KP + ((lane >> 3) & 1) * 8;
#pragma unroll
    for (int kc = 0; kc < HD / 16; kc++) {
        unsigned af[M][4];
#pragma unroll
        for (int m = 0; m < M; m++) ldsm4<false>(af[m], pa + m * 16 * KP + kc * 16);
#pragma unroll
        for (int np = 0; np < N / 16; np++) {
            unsigned b[4];
            ldsm4<false>(b, p + np * 16 * KP + kc * 16);
            mma_m_tiles<M, N / 8>(acc, 2 * np, af, b);
        }
    }
}

// acc[m][HD/8][4] += P_m(16 x N, C-layout fragments s[m][N/8][4], rounded to bf16) . M for m < M, M a tile [N][KP]
// (k = its rows): the C layout of two n8 tiles is the A layout of one k16 chunk, and ldmatrix.x4.trans gives the b0, b1
// of two n8 tiles of M (columns 0-7 | 8-15 of 16), shared by the M products.
template <int N, int M>
__device__ __forceinline__ void mma_pv(float (*acc)[HD / 8][4], float (*s)[N / 8][4], const bf16_t* tile) {
    const int lane = threadIdx.x % 32;
    const bf16_t* p = tile + (((lane >> 3) & 1) * 8 + (lane & 7)) * KP + (lane >> 4) * 8;
#pragma unroll
    for (int kc = 0; kc < N / 16; kc++) {
        unsigned a[M][4];
#pragma unroll
        for (int m = 0; m < M; m++) {
            a[m][0] = pack2(s[m][2 * kc][0], s[m][2 * kc][1]);
            a[m][1] = pack2(s[m][2 * kc][2], s[m][2 * kc][3]);
            a[m][2] = pack2(s[m][2 * kc + 1][0], s[m][2 * kc + 1][1]);
            a[m][3] = pack2(s[m][2 * kc + 1][2], s[m][2 * kc + 1][3]);
        }
#pragma unroll
        for (int dp = 0; dp < HD / 16; dp++) {
            unsigned b[4];
            ldsm4<true>(b, p + kc * 16 * KP + dp * 16);
            mma_m_tiles<M, HD / 8>(acc, 2 * dp, a, b);
        }
    }
}

// Stores 16 x HD accumulators (times mul) as bf16 rows row0.. of dst (row stride ld), rows >= limit skipped.
__device__ __forceinline__ void store_rows(bf16_t* dst, long ld, int row0, int limit, float (*acc)[4], float mul0, float mul1) {
    const int lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    const int r0 = row0 + g, r1 = row0 + g + 8;
#pragma unroll
    for (int dn = 0; dn < HD / 8; dn++) {
        int c = dn * 8 + 2 * t;
        if (r0 < limit) *reinterpret_cast<unsigned*>(dst + (long)r0 * ld + c) = pack2(acc[dn][0] * mul0, acc[dn][1] * mul0);
        if (r1 < limit) *reinterpret_cast<unsigned*>(dst + (long)r1 * ld + c) = pack2(acc[dn][2] * mul1, acc[dn][3] * mul1);
    }
}

// dbias[c] += the sums over this warp's 16 rows (row0 + g, + 8; rows >= limit skipped) of the accumulators times mul
// as store_rows stores them (bf16), column c = dn * 8 + 2t (+1): a reduction over the lanes that share t.
__device__ __forceinline__ void add_column_sums(float* dbias, int row0, int limit, float (*acc)[4], float mul) {
    const int lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    const bool ok0 = row0 + g < limit, ok1 = row0 + g + 8 < limit;
#pragma unroll
    for (int dn = 0; dn < HD / 8; dn++) {
        float s0 = (ok0 ? bf2f(f2bf(acc[dn][0] * mul)) : 0.f) + (ok1 ? bf2f(f2bf(acc[dn][2] * mul)) : 0.f);
        float s1 = (ok0 ? bf2f(f2bf(acc[dn][1] * mul)) : 0.f) + (ok1 ? bf2f(f2bf(acc[dn][3] * mul)) : 0.f);
#pragma unroll
        for (int o = 4; o < 32; o <<= 1) {
            s0 += __shfl_xor_sync(0xffffffffu, s0, o);
            s1 += __shfl_xor_sync(0xffffffffu, s1, o);
        }
        if (g == 0) redv<2>(dbias + dn * 8 + 2 * t, {s0, s1});
    }
}

// One backward stage: the query tile at q0 (Q and dO rows queued with cp.async) with its lse (log2 units) and delta.
__device__ __forceinline__ void load_query_tile(bf16_t* stage, float (*ld)[TQ], const bf16_t* q, long ldq, const bf16_t* dyb,
                                                int C, const float* lse, const float* delta, int q0, int Tn) {
    load_async<TQ, BTHREADS>(stage, q, ldq, q0, Tn);
    load_async<TQ, BTHREADS>(stage + TQ * KP, dyb, C, q0, Tn);
    for (int r = threadIdx.x; r < TQ; r += BTHREADS) {
        const int i = q0 + r;
        ld[0][r] = i < Tn ? lse[i] * LOG2E : 0.f;
        ld[1][r] = i < Tn ? delta[i] : 0.f;
    }
}

}  // namespace

// Forward. Grid (ceil(T/TR), B*H), 128 threads; a block owns TR queries (FM m16 tiles per warp) and walks the key tiles
// of TK up to its diagonal, the next tile's K and V on their way (cp.async) while this one is multiplied; only the tiles
// that reach the diagonal (or T) are masked, and a warp skips those past its last query (TK < TR). Each K or V fragment
// read from shared memory serves the warp's FM tiles. scale_log2 = log2(e) / sqrt(d).
extern "C" __global__ __launch_bounds__(128, ATTN_FWD_MIN_BLOCKS) void attn_fwd_tc_bf16(const bf16_t* qkv, bf16_t* y, float* lse,
        int H, int Tn, float scale_log2) {
    __shared__ int4 kv_raw[(2 * 2 * TK * KP) / 8];   // two stages of [K tile | V tile]; int4: 16-byte aligned
    bf16_t* kv = reinterpret_cast<bf16_t*>(kv_raw);
    const int C = H * HD;
    const long ld3 = 3L * C;
    const int bh = blockIdx.y, b = bh / H, h = bh % H;
    const int blk = gridDim.x - 1 - blockIdx.x;                 // longest rows first
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    const bf16_t* base = qkv + (long)b * Tn * ld3 + h * HD;
    const int row0 = blk * TR + warp * 16 * FM, last = row0 + 16 * FM - 1;   // the warp's queries
    int lim[FM][2];   // per m tile and row half: the last key the row sees (its own, or T - 1)
#pragma unroll
    for (int m = 0; m < FM; m++) {
        lim[m][0] = min(row0 + 16 * m + g, Tn - 1);
        lim[m][1] = min(row0 + 16 * m + g + 8, Tn - 1);
    }
    const int tiles = (min(Tn, blk * TR + TR) + TK - 1) / TK;
    load_async<TK>(kv, base + C, ld3, 0, Tn);
    load_async<TK>(kv + TK * KP, base + 2 * C, ld3, 0, Tn);
    cp_commit();
    unsigned qa[FM][HD / 16][4];
    float o[FM][HD / 8][4];
    float mx[FM][2], ls[FM][2];   // per m tile and row half (g, g + 8): running max (unscaled scores), partial sum
#pragma unroll
    for (int m = 0; m < FM; m++) {
        load_a(qa[m], base, ld3, row0 + 16 * m, Tn);
#pragma unroll
        for (int dn = 0; dn < HD / 8; dn++) o[m][dn][0] = o[m][dn][1] = o[m][dn][2] = o[m][dn][3] = 0.f;
        mx[m][0] = mx[m][1] = NEG_INF;
        ls[m][0] = ls[m][1] = 0.f;
    }
    for (int it = 0; it < tiles; it++) {
        const int k0 = it * TK;
        if (it + 1 < tiles) {
            bf16_t* next = kv + ((it + 1) & 1) * 2 * TK * KP;   // the stage the previous iteration finished with
            load_async<TK>(next, base + C, ld3, k0 + TK, Tn);
            load_async<TK>(next + TK * KP, base + 2 * C, ld3, k0 + TK, Tn);
            cp_commit();
            cp_wait<1>();
        } else {
            cp_wait<0>();
        }
        __syncthreads();
        if (TK >= TR || k0 <= last) {   // (warp-uniform) some key of the tile precedes one of the warp's queries
            const bf16_t* Ks = kv + (it & 1) * 2 * TK * KP;
            float s[FM][TK / 8][4];
#pragma unroll
            for (int m = 0; m < FM; m++)
#pragma unroll
                for (int nt = 0; nt < TK / 8; nt++) s[m][nt][0] = s[m][nt][1] = s[m][nt][2] = s[m][nt][3] = 0.f;
            mma_abt<TK, FM>(s, qa, Ks);
            const bool masked = k0 + TK > blk * TR;   // the tile reaches the block's diagonal (or T)
#pragma unroll
            for (int m = 0; m < FM; m++) {
                float x[2] = {mx[m][0], mx[m][1]};
#pragma unroll
                for (int nt = 0; nt < TK / 8; nt++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int key = nt * 8 + 2 * t + (e & 1);   // relative to k0
                        if (masked && key > lim[m][e >> 1] - k0) s[m][nt][e] = NEG_INF;
                        x[e >> 1] = fmaxf(x[e >> 1], s[m][nt][e]);
                    }
                }
                float corr[2], sc[2], p[2] = {0.f, 0.f};
#pragma unroll
                for (int r = 0; r < 2; r++) {
                    x[r] = quad_max(x[r]);   // finite: every row saw key 0 in the first tile
                    corr[r] = exp2f((mx[m][r] - x[r]) * scale_log2);
                    mx[m][r] = x[r];
                    sc[r] = x[r] * scale_log2;   // the max is taken unscaled (scale > 0): one FMA a score
                }
#pragma unroll
                for (int nt = 0; nt < TK / 8; nt++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        s[m][nt][e] = exp2f(fmaf(s[m][nt][e], scale_log2, -sc[e >> 1]));
                    }
                    p[0] += s[m][nt][0] + s[m][nt][1];
                    p[1] += s[m][nt][2] + s[m][nt][3];
                }
#pragma unroll
                for (int r = 0; r < 2; r++) ls[m][r] = ls[m][r] * corr[r] + p[r];
#pragma unroll
                for (int dn = 0; dn < HD / 8; dn++) {
                    o[m][dn][0] *= corr[0];
                    o[m][dn][1] *= corr[0];
                    o[m][dn][2] *= corr[1];
                    o[m][dn][3] *= corr[1];
                }
            }
            mma_pv<TK, FM>(o, s, Ks + TK * KP);
        }
        __syncthreads();   // the next iteration queues the tile after next into this stage
    }
#pragma unroll
    for (int m = 0; m < FM; m++) {
        const float la = quad_sum(ls[m][0]), lb = quad_sum(ls[m][1]);
        const int ra = row0 + 16 * m + g, rb = ra + 8;
        store_rows(y + (long)b * Tn * C + h * HD, C, row0 + 16 * m, Tn, o[m], 1.f / la, 1.f / lb);
        if (t == 0) {
            if (ra < Tn) lse[(long)bh * Tn + ra] = (mx[m][0] * scale_log2 + log2f(la)) * LN2;
            if (rb < Tn) lse[(long)bh * Tn + rb] = (mx[m][1] * scale_log2 + log2f(lb)) * LN2;
        }
    }
}

// delta[b, h, t] = sum_c dy * y over the head's columns, and the row's part of the dQ accumulator zeroed (fp32 [B, T, C],
// which the backward adds into): eight threads per row, each 16-byte loads 64 columns apart, so a warp reads four
// rows' 128 contiguous bytes per access. Grid covers 8·B·H·T threads.
extern "C" __global__ void attn_delta_tc_bf16(const bf16_t* dy, const bf16_t* y, float* delta, float* dqacc, int H, int Tn, long rows) {
    const long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    const long r = i / 8;
    const int g = (int)(i % 8);
    const bool live = r < rows;                 // (every lane stays for the shuffles)
    float s = 0.f;
    if (live) {
        const long bh = r / Tn;
        const int t = (int)(r % Tn), b = (int)(bh / H), h = (int)(bh % H);
        const long off = ((long)b * Tn + t) * H * HD + h * HD;
        const float4 zero = make_float4(0.f, 0.f, 0.f, 0.f);
        for (int c = g * 8; c < HD; c += 64) {
            float u[8], v[8];
            loadv<8>(dy + off + c, u);
            loadv<8>(y + off + c, v);
#pragma unroll
            for (int j = 0; j < 8; j++) s += u[j] * v[j];
            *reinterpret_cast<float4*>(dqacc + off + c) = zero;
            *reinterpret_cast<float4*>(dqacc + off + c + 4) = zero;
        }
    }
#pragma unroll
    for (int o = 4; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (live && g == 0) delta[r] = s;
}

// dQ, dK and dV in one pass (FlashAttention-2's backward). Grid (ceil(T/BR), B*H), BTHREADS threads, BWD_SMEM bytes of
// dynamic shared memory (attn_bwd_shape says both): a block owns BR keys (16 KM per warp) and walks the query tiles of
// TQ from its diagonal on, the next tile's Q and dO on their way. Per tile, S^T = K Q^T and dP^T = V dO^T give P^T and
// dS^T = P^T (dP^T - delta) in registers; dV += P^T dO and dK += dS^T Q stay in registers; dQ += dS K needs all BR
// keys, so dS^T goes through shared memory and each warp adds its part of the tile into dqacc (fp32 [B, T, C], zeroed
// before) with vector atomics. A warp whose keys all come after the tile's queries (near the diagonal) skips its
// products and leaves zeros in dS^T. attn_dq_store_bf16 then writes dQ. More keys per block: each Q/dO tile and each
// dQ atomic serves more keys; two key tiles a warp (KM = 2): each Q and dO fragment read from shared memory serves both,
// and K, V fragments come from shared memory too (the accumulators leave no registers for them).
extern "C" __global__ __launch_bounds__(BTHREADS, ATTN_BWD_MIN_BLOCKS) void attn_bwd_tc_bf16(const bf16_t* qkv, const bf16_t* dy, const float* lse,
        const float* delta, float* dqacc, bf16_t* dqkv, float* dbias, int H, int Tn, float scale_log2, float scale) {
    extern __shared__ int4 attn_bwd_smem[];   // int4: 16-byte aligned
    unsigned char* smem = reinterpret_cast<unsigned char*>(attn_bwd_smem);
    bf16_t* qo = reinterpret_cast<bf16_t*>(smem + BWD_QO);   // two stages of [Q tile | dO tile]
    bf16_t* Ks = reinterpret_cast<bf16_t*>(smem + BWD_K);    // the block's keys: dQ's B operand (and S's A with KM = 2)
    bf16_t* Vs = reinterpret_cast<bf16_t*>(smem + BWD_V);    // the block's values (KM = 2 only): dP's A operand
    bf16_t* dSt = reinterpret_cast<bf16_t*>(smem + BWD_DS);  // dS^T of the current tile (bf16)
    float (*lds)[2][TQ] = reinterpret_cast<float (*)[2][TQ]>(smem + BWD_LD);   // per stage: lse (log2 units), delta
    const int C = H * HD;
    const long ld3 = 3L * C;
    const int bh = blockIdx.y, b = bh / H, h = bh % H;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    const bf16_t* base = qkv + (long)b * Tn * ld3 + h * HD;
    const bf16_t* dyb = dy + (long)b * Tn * C + h * HD;
    const float* lse_bh = lse + (long)bh * Tn;
    const float* delta_bh = delta + (long)bh * Tn;
    const int kblk = blockIdx.x * BR;                 // block 0 has the most queries: it starts first
    const int key0 = kblk + warp * 16 * KM;           // the warp's first key; its tile m has keys key0 + 16m + g (+ 8)
    const int tiles = (Tn - kblk + TQ - 1) / TQ;
    load_async<BR, BTHREADS>(Ks, base + C, ld3, kblk, Tn);
    if constexpr (KM == 2) load_async<BR, BTHREADS>(Vs, base + 2 * C, ld3, kblk, Tn);
    load_query_tile(qo, lds[0], base, ld3, dyb, C, lse_bh, delta_bh, kblk, Tn);
    cp_commit();
    unsigned ka[HD / 16][4], va[HD / 16][4];   // one key tile a warp: K and V fragments in registers
    if constexpr (KM == 1) {
        load_a(ka, base + C, ld3, key0, Tn);
        load_a(va, base + 2 * C, ld3, key0, Tn);
    }
    float dk[KM][HD / 8][4], dv[KM][HD / 8][4];
#pragma unroll
    for (int m = 0; m < KM; m++)
#pragma unroll
        for (int dn = 0; dn < HD / 8; dn++) {
            dk[m][dn][0] = dk[m][dn][1] = dk[m][dn][2] = dk[m][dn][3] = 0.f;
            dv[m][dn][0] = dv[m][dn][1] = dv[m][dn][2] = dv[m][dn][3] = 0.f;
        }
    const int mq = warp % MT;
    float* dq_rows = dqacc + (long)b * Tn * C + h * HD + 2 * t;
    for (int it = 0; it < tiles; it++) {
        const int q0 = kblk + it * TQ;
        if (it + 1 < tiles) {
            load_query_tile(qo + ((it + 1) & 1) * 2 * TQ * KP, lds[(it + 1) & 1], base, ld3, dyb, C, lse_bh, delta_bh,
                            q0 + TQ, Tn);
            cp_commit();
            cp_wait<1>();
        } else {
            cp_wait<0>();
        }
        __syncthreads();
        if (q0 + TQ <= key0) {   // every query of the tile precedes this warp's keys: dS^T = 0, nothing to add
#pragma unroll
            for (int m = 0; m < KM; m++)
#pragma unroll
                for (int nt = 0; nt < TQ / 8; nt++) {
                    bf16_t* d = dSt + (warp * 16 * KM + 16 * m + g) * SP + nt * 8 + 2 * t;
                    *reinterpret_cast<unsigned*>(d) = 0u;
                    *reinterpret_cast<unsigned*>(d + 8 * SP) = 0u;
                }
        } else {
            const bf16_t* Qs = qo + (it & 1) * 2 * TQ * KP;
            const bf16_t* Os = Qs + TQ * KP;
            const float* Ls = lds[it & 1][0];
            const float* Ds = lds[it & 1][1];
            float p[KM][TQ / 8][4], dp[KM][TQ / 8][4];
#pragma unroll
            for (int m = 0; m < KM; m++)
#pragma unroll
                for (int nt = 0; nt < TQ / 8; nt++) {
                    p[m][nt][0] = p[m][nt][1] = p[m][nt][2] = p[m][nt][3] = 0.f;
                    dp[m][nt][0] = dp[m][nt][1] = dp[m][nt][2] = dp[m][nt][3] = 0.f;
                }
            if constexpr (KM == 1) {
                mma_abt<TQ, KM>(p, &ka, Qs);    // S^T = K Q^T (keys x queries)
                mma_abt<TQ, KM>(dp, &va, Os);   // dP^T = V dO^T
            } else {
                mma_abt_shared<TQ, KM>(p, Ks + (key0 - kblk) * KP, Qs);
                mma_abt_shared<TQ, KM>(dp, Vs + (key0 - kblk) * KP, Os);
            }
            const bool masked = q0 < key0 + 16 * KM || q0 + TQ > Tn;
#pragma unroll
            for (int m = 0; m < KM; m++)
#pragma unroll
                for (int nt = 0; nt < TQ / 8; nt++) {
#pragma unroll
                    for (int e = 0; e < 4; e++) {
                        const int col = nt * 8 + 2 * t + (e & 1), query = q0 + col, key = key0 + 16 * m + g + 8 * (e >> 1);
                        float pv = exp2f(p[m][nt][e] * scale_log2 - Ls[col]);
                        // query < key or >= T; with two key tiles, one unsigned compare (ptxas: 4 bytes of spills to 0;
                        // with one it spills 16 bytes instead of 8), which keeps keys past T: their K and V rows are
                        // zeros, so their dS^T adds nothing to dQ, and their dK, dV are not stored
                        const bool out = KM == 1 ? query < key || query >= Tn : (unsigned)(query - key) >= (unsigned)(Tn - key);
                        if (masked && out) pv = 0.f;
                        p[m][nt][e] = pv;
                        dp[m][nt][e] = pv * (dp[m][nt][e] - Ds[col]);   // dS^T
                    }
                }
            mma_pv<TQ, KM>(dv, p, Os);    // dV += P^T dO
            mma_pv<TQ, KM>(dk, dp, Qs);   // dK += dS^T Q
#pragma unroll
            for (int m = 0; m < KM; m++)
#pragma unroll
                for (int nt = 0; nt < TQ / 8; nt++) {
                    bf16_t* d = dSt + (warp * 16 * KM + 16 * m + g) * SP + nt * 8 + 2 * t;
                    *reinterpret_cast<unsigned*>(d) = pack2(dp[m][nt][0], dp[m][nt][1]);
                    *reinterpret_cast<unsigned*>(d + 8 * SP) = pack2(dp[m][nt][2], dp[m][nt][3]);
                }
        }
        __syncthreads();
        // dQ rows q0 + 16 mq .. +15 = dS (16 x BR keys, A fragments from dS^T by ldmatrix.trans, read once for the
        // warp's NQ n8 tiles) . K (BR keys x HD), 32 keys (two k16 chunks) per B load
        const int r0 = q0 + mq * 16 + g, r1 = r0 + 8;
        unsigned da[BR / 16][4];
#pragma unroll
        for (int kc = 0; kc < BR / 16; kc++)
            ldsm4<true>(da[kc], dSt + (kc * 16 + (lane >> 4) * 8 + (lane & 7)) * SP + mq * 16 + ((lane >> 3) & 1) * 8);
#pragma unroll
        for (int i = 0; i < NQ; i++) {
            const int nt = warp / MT + i * (BWARPS / MT);
            if (nt < HD / 8) {
                float acc[4] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
                for (int kk = 0; kk < BR / 32; kk++) {
                    unsigned bb[4];
                    ldsm4<true>(bb, Ks + (kk * 32 + lane) * KP + nt * 8);   // b0, b1 of the two k16 chunks
                    mma_bf16(acc, da[2 * kk], bb);
                    mma_bf16(acc, da[2 * kk + 1], bb + 2);
                }
                if (r0 < Tn) redv<2>(dq_rows + (long)r0 * C + nt * 8, {acc[0], acc[1]});
                if (r1 < Tn) redv<2>(dq_rows + (long)r1 * C + nt * 8, {acc[2], acc[3]});
            }
        }
        __syncthreads();   // the next iteration queues the tile after next into this stage and rewrites dS^T
    }
    bf16_t* out = dqkv + (long)b * Tn * ld3 + h * HD;
#pragma unroll
    for (int m = 0; m < KM; m++) {
        const int k16 = key0 + 16 * m;
        store_rows(out + C, ld3, k16, Tn, dk[m], scale, scale);
        store_rows(out + 2 * C, ld3, k16, Tn, dv[m], 1.f, 1.f);
        if (dbias != nullptr) {   // the k and v thirds of the c_attn bias gradient
            add_column_sums(dbias + C + h * HD, k16, Tn, dk[m], scale);
            add_column_sums(dbias + 2 * C + h * HD, k16, Tn, dv[m], 1.f);
        }
    }
}

// The backward's launch as this build cuts it: threads per block and bytes of dynamic shared memory.
extern "C" __global__ void attn_bwd_shape(int* out) {
    out[0] = BTHREADS;
    out[1] = BWD_SMEM;
}

// dqkv[row, 0:C] = bf16(scale * dqacc[row, :]) for the [rows, C] accumulator, and dbias[0:C] (or null) += the column
// sums of what it stores (the q third of the c_attn bias gradient). Block (32, 8), 8 columns a thread (C % 8 == 0).
struct DqStore {
    const float* dqacc;
    bf16_t* dqkv;
    int C;
    float scale;
    __device__ void operator()(long off, float (&a)[8]) const {   // off = row * C + column
        const long row = off / C;
        loadv<8>(dqacc + off, a);
#pragma unroll
        for (int j = 0; j < 8; j++) a[j] *= scale;
        storev<8>(dqkv + row * 3 * C + off % C, a);
#pragma unroll
        for (int j = 0; j < 8; j++) a[j] = as_stored(a[j], dqkv);
    }
};

extern "C" __global__ void attn_dq_store_bf16(const float* dqacc, bf16_t* dqkv, float* dbias, int rows, int C, float scale) {
    column_sums<8>(dbias, rows, C, DqStore{dqacc, dqkv, C, scale});
}

#else  // the tensor-core kernels need d % 16 == 0; these stubs keep the module's kernel names (never launched)

extern "C" __global__ void attn_fwd_tc_bf16(const bf16_t*, bf16_t*, float*, int, int, float) {}
extern "C" __global__ void attn_delta_tc_bf16(const bf16_t*, const bf16_t*, float*, float*, int, int, long) {}
extern "C" __global__ void attn_bwd_tc_bf16(const bf16_t*, const bf16_t*, const float*, const float*, float*, bf16_t*, float*, int,
                                            int, float, float) {}
extern "C" __global__ void attn_dq_store_bf16(const float*, bf16_t*, float*, int, int, float) {}
extern "C" __global__ void attn_bwd_shape(int* out) { out[0] = out[1] = 0; }

#endif  // HEAD_DIM % 16 == 0
