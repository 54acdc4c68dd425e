// The hyper-connection stream maps of one block (seed 001 eq. 5-8 and §4.3, seed 003 eq. 4 and 6-9), fp32,
// forward and backward, for HC (dynamic/static), mHC (plain or log-domain Sinkhorn), mHC-lite and sHC.
// StreamMaps.java compiles this once per configuration with
//   -DSM_N=n -DSM_PARADIGM=0|1|2|3 (HC, MHC, MHC_LITE, SHC) -DSM_DYN=0|1 -DSM_ITERS=t -DSM_LOG=0|1
//   -DSM_XBF16=0|1 (streams stored fp32 or bf16)
// so every per-token array has a compile-time size and lives in registers. The defaults below let nvcc-check build it.
//
// Per token t with streams x_t (n x C, row-major, flattened to D = nC):
//   r = 1/sqrt(mean(x^2) + eps)            sm_rms (a warp per token)
//   u = x_flat · Φ_cat                    sm_project, fused with the RMS on tensor cores (M <= 64), or one cuBLASLt
//                                         GEMM [N, D]·[D, M] after sm_rms (Φ_cat gathered by sm_pack)
//   z = r·u, then gates and H_res          in sm_project after its product (or sm_maps_forward), LP threads per token
// Φ_cat's columns: [pre n | post n | res: n² (HC, mHC), n! (mHC-lite), u k | v k | s n-1 (sHC)].
// The small parameters travel packed in theta (layout T_* below; StreamMapsLayout.java mirrors it).
// The backward recomputes the per-token maps from u and r (as the paper's fused kernel does) and walks back through
// Sinkhorn by undoing each normalisation with the saved normalisers; needs bf16.cuh, async.cuh, mma.cuh and layernorm.cuh
// (wide loads, cp.async, tensor-core products: 3xTF32 on fp32 streams, bf16 with split operands on bf16 streams; the
// LayerNorm row that sm_aggregate_layernorm shares with layernorm.cu).

#ifndef SM_N
#define SM_N 4
#endif
#ifndef SM_PARADIGM
#define SM_PARADIGM 1
#endif
#ifndef SM_DYN
#define SM_DYN 1
#endif
#ifndef SM_ITERS
#define SM_ITERS 20
#endif
#ifndef SM_LOG
#define SM_LOG 0
#endif
#ifndef SM_XBF16
#define SM_XBF16 0
#endif
#define SM_EPS 1e-6f               // ResidualMaps.EPS
#define SM_RED_THREADS 128         // block size of sm_merge_backward (a warp per token)
#define SM_BIAS_SLICE(c, V) (((c) + 32 * (V) - 1) / (32 * (V)) * 32 * (V))   // floats of a warp's bias slice in sm_merge_backward

namespace sm {
constexpr int HC = 0, MHC = 1, LITE = 2, SHC = 3;
constexpr int PAR = SM_PARADIGM;
constexpr int NS = SM_N;
constexpr bool DYN = PAR != HC || SM_DYN != 0;
// The streams x and their gradients dOut, dx as stored: fp32, or bf16 (SM_XBF16=1: half the bytes of every pass over
// them, as under PyTorch's autocast, whose bf16 H_res·x has bf16 gradients; every sum still runs in fp32). The
// sublayer's input h, its gradient dh and the output f are stored the same way (under autocast the bf16 results of
// H_pre·x, of the LayerNorm's backward and of the sublayer's last linear layer); the maps stay fp32, and f's gradient
// df is fp32 or, for a caller that needs it only as a GEMM operand, bf16.
#if SM_XBF16
typedef bf16_t xs_t;
#else
typedef float xs_t;
#endif
constexpr int XE = 16 / (int) sizeof(xs_t);             // elements of x, dOut or dx per 16-byte copy
__host__ __device__ constexpr int fact(int k) { return k <= 1 ? 1 : k * fact(k - 1); }
constexpr int NF = PAR == LITE ? fact(NS) : 1;
constexpr int KS = (NS - 1) * (NS - 2) / 2;        // free entries of the sHC skew core
constexpr int KA = KS > 0 ? KS : 1;                // array size for them
constexpr int NM = NS > 1 ? NS - 1 : 1;            // sHC core size (array size)
constexpr int NR = (PAR == HC || PAR == MHC) ? NS * NS : PAR == LITE ? NF : (NS > 1 ? 2 * KS + NS - 1 : 0);
constexpr int M = DYN ? 2 * NS + NR : 0;           // columns of Φ_cat
constexpr int C_PRE = 0, C_POST = NS, C_RES = 2 * NS, C_U = 2 * NS, C_V = 2 * NS + KS, C_S = 2 * NS + 2 * KS;
constexpr int T_APRE = 0, T_APOST = 1, T_ARES = 2, T_BPRE = 3, T_BPOST = 3 + NS, T_RES = 3 + 2 * NS;
constexpr int T_BU = T_RES, T_TAUU = T_BU + KS, T_GAMU = T_TAUU + 1, T_BV = T_GAMU + 1, T_TAUV = T_BV + KS,
              T_GAMV = T_TAUV + 1, T_BS = T_GAMV + 1, T_TAUS = T_BS + NS - 1;
constexpr int TH = PAR == SHC ? T_TAUS + 1 : T_RES + (PAR == LITE ? NF : NS * NS);
constexpr int SV = SM_ITERS * 2 * NS;              // saved Sinkhorn normalisers

__device__ __forceinline__ float sigm(float v) { return 1.f / (1.f + expf(-v)); }

// Column j of the truncated Helmert basis (n x (n-1)): (1,...,1,-(j+1),0,...)/sqrt((j+1)(j+2)).
__device__ __forceinline__ float helmert(int i, int j) {
    int c = j + 1;
    float s = 1.f / sqrtf((float) (c * (c + 1)));
    return i < c ? s : (i == c ? -(float) c * s : 0.f);
}

// In: logits. Out: the Sinkhorn-Knopp projection (column then row normalisation per iteration, as Sinkhorn.project).
// sv (when non-null) receives the normalisers: plain sums, or the log-sum-exps of the log-domain version;
// lf receives the final log iterate (log domain only).
__device__ void sinkhorn(float (&m)[NS * NS], float* sv, float (&lf)[NS * NS]) {
    if constexpr (SM_LOG == 0) {
#pragma unroll
        for (int k = 0; k < NS * NS; k++) m[k] = expf(m[k]);
        // one reciprocal per sum, then multiplications: an fp32 division costs several instructions (here and in the
        // backward, measured: sm_maps_forward 27.3 -> 15.0 us per block on the H200, mHC's maps -0.9 ms per step)
        for (int t = 0; t < SM_ITERS; t++) {
#pragma unroll
            for (int j = 0; j < NS; j++) {
                float s = 0.f;
#pragma unroll
                for (int i = 0; i < NS; i++) s += m[i * NS + j];
                const float inv = 1.f / s;
#pragma unroll
                for (int i = 0; i < NS; i++) m[i * NS + j] *= inv;
                if (sv) sv[(2 * t) * NS + j] = s;
            }
#pragma unroll
            for (int i = 0; i < NS; i++) {
                float s = 0.f;
#pragma unroll
                for (int j = 0; j < NS; j++) s += m[i * NS + j];
                const float inv = 1.f / s;
#pragma unroll
                for (int j = 0; j < NS; j++) m[i * NS + j] *= inv;
                if (sv) sv[(2 * t + 1) * NS + i] = s;
            }
        }
#pragma unroll
        for (int k = 0; k < NS * NS; k++) lf[k] = 0.f;
    } else {
        for (int t = 0; t < SM_ITERS; t++) {
#pragma unroll
            for (int j = 0; j < NS; j++) {
                float mx = m[j];
#pragma unroll
                for (int i = 1; i < NS; i++) mx = fmaxf(mx, m[i * NS + j]);
                float s = 0.f;
#pragma unroll
                for (int i = 0; i < NS; i++) s += expf(m[i * NS + j] - mx);
                float lse = mx + logf(s);
#pragma unroll
                for (int i = 0; i < NS; i++) m[i * NS + j] -= lse;
                if (sv) sv[(2 * t) * NS + j] = lse;
            }
#pragma unroll
            for (int i = 0; i < NS; i++) {
                float mx = m[i * NS];
#pragma unroll
                for (int j = 1; j < NS; j++) mx = fmaxf(mx, m[i * NS + j]);
                float s = 0.f;
#pragma unroll
                for (int j = 0; j < NS; j++) s += expf(m[i * NS + j] - mx);
                float lse = mx + logf(s);
#pragma unroll
                for (int j = 0; j < NS; j++) m[i * NS + j] -= lse;
                if (sv) sv[(2 * t + 1) * NS + i] = lse;
            }
        }
#pragma unroll
        for (int k = 0; k < NS * NS; k++) { lf[k] = m[k]; m[k] = expf(m[k]); }
    }
}

// In g: dL/dH_res. Out g: dL/dlogits. y: the projection (plain) / lf: final log iterate (log domain).
__device__ void sinkhornBackward(float (&g)[NS * NS], const float (&y0)[NS * NS], const float (&lf)[NS * NS],
                                 const float* sv, const float (&logits)[NS * NS]) {
    float y[NS * NS];
    if constexpr (SM_LOG == 0) {
#pragma unroll
        for (int k = 0; k < NS * NS; k++) y[k] = y0[k];
        for (int t = SM_ITERS - 1; t >= 0; t--) {
#pragma unroll
            for (int i = 0; i < NS; i++) {             // Y = X / rowsum(X): dX = (G - <G, Y>_row) / s
                float s = sv[(2 * t + 1) * NS + i], dot = 0.f;
#pragma unroll
                for (int j = 0; j < NS; j++) dot += g[i * NS + j] * y[i * NS + j];
                const float inv = 1.f / s;
#pragma unroll
                for (int j = 0; j < NS; j++) { g[i * NS + j] = (g[i * NS + j] - dot) * inv; y[i * NS + j] *= s; }
            }
#pragma unroll
            for (int j = 0; j < NS; j++) {
                float s = sv[(2 * t) * NS + j], dot = 0.f;
#pragma unroll
                for (int i = 0; i < NS; i++) dot += g[i * NS + j] * y[i * NS + j];
                const float inv = 1.f / s;
#pragma unroll
                for (int i = 0; i < NS; i++) { g[i * NS + j] = (g[i * NS + j] - dot) * inv; y[i * NS + j] *= s; }
            }
        }
#pragma unroll
        for (int k = 0; k < NS * NS; k++) g[k] *= expf(logits[k]);          // M0 = exp(logits)
    } else {
#pragma unroll
        for (int k = 0; k < NS * NS; k++) { g[k] *= y0[k]; y[k] = lf[k]; }   // H = exp(l)
        for (int t = SM_ITERS - 1; t >= 0; t--) {
#pragma unroll
            for (int i = 0; i < NS; i++) {             // Y = X - lse_row(X): dX = G - exp(Y) Σ_row G
                float lse = sv[(2 * t + 1) * NS + i], sg = 0.f;
#pragma unroll
                for (int j = 0; j < NS; j++) sg += g[i * NS + j];
#pragma unroll
                for (int j = 0; j < NS; j++) { g[i * NS + j] -= expf(y[i * NS + j]) * sg; y[i * NS + j] += lse; }
            }
#pragma unroll
            for (int j = 0; j < NS; j++) {
                float lse = sv[(2 * t) * NS + j], sg = 0.f;
#pragma unroll
                for (int i = 0; i < NS; i++) sg += g[i * NS + j];
#pragma unroll
                for (int i = 0; i < NS; i++) { g[i * NS + j] -= expf(y[i * NS + j]) * sg; y[i * NS + j] += lse; }
            }
        }
    }
}

// Cayley transform of skew(th) (strict upper triangle row by row, lower = -upper): minv = (I - A)^{-1}, q = 2 minv - I
// = (I - A)^{-1}(I + A). Gauss-Jordan without pivoting is safe: I - A has symmetric part I, so every pivot is >= 1.
__device__ void cayley(const float (&th)[KA], float (&minv)[NM * NM], float (&q)[NM * NM]) {
    float a[NM * NM];
#pragma unroll
    for (int i = 0; i < NM * NM; i++) { a[i] = 0.f; minv[i] = 0.f; }
#pragma unroll
    for (int i = 0; i < NM; i++) { a[i * NM + i] = 1.f; minv[i * NM + i] = 1.f; }
    if constexpr (KS > 0) {
        int k = 0;
#pragma unroll
        for (int i = 0; i < NM; i++)
#pragma unroll
            for (int j = i + 1; j < NM; j++) { a[i * NM + j] = -th[k]; a[j * NM + i] = th[k]; k++; }
    }
#pragma unroll
    for (int p = 0; p < NM; p++) {
        float inv = 1.f / a[p * NM + p];
#pragma unroll
        for (int j = 0; j < NM; j++) { a[p * NM + j] *= inv; minv[p * NM + j] *= inv; }
#pragma unroll
        for (int r = 0; r < NM; r++) {
            if (r == p) continue;
            float f = a[r * NM + p];
#pragma unroll
            for (int j = 0; j < NM; j++) { a[r * NM + j] -= f * a[p * NM + j]; minv[r * NM + j] -= f * minv[p * NM + j]; }
        }
    }
#pragma unroll
    for (int i = 0; i < NM; i++)
#pragma unroll
        for (int j = 0; j < NM; j++) q[i * NM + j] = 2.f * minv[i * NM + j] - (i == j ? 1.f : 0.f);
}

// sHC's factors P = U_Z U_core and Q = U_Z V_core (n x (n-1)) with the cores' inverses and angles, and Σ.
struct Spectral {
    float tu[KA], tv[KA];                  // tanh(τ z + b) of the angles (before γ)
    float mu[NM * NM], mv[NM * NM];        // (I - A)^{-1}
    float p[NS * NM], q[NS * NM];
    float sg[NM];
};

__device__ void spectral(const float* ut, float r, const float* th, Spectral& s) {
    float cu[NM * NM], cv[NM * NM];
    if constexpr (KS > 0) {
        float au[KA], av[KA];
#pragma unroll
        for (int k = 0; k < KS; k++) {
            s.tu[k] = tanhf(th[T_TAUU] * (r * ut[C_U + k]) + th[T_BU + k]);
            s.tv[k] = tanhf(th[T_TAUV] * (r * ut[C_V + k]) + th[T_BV + k]);
            au[k] = th[T_GAMU] * s.tu[k];
            av[k] = th[T_GAMV] * s.tv[k];
        }
        cayley(au, s.mu, cu);
        cayley(av, s.mv, cv);
    } else {
        s.tu[0] = s.tv[0] = 0.f;
        s.mu[0] = s.mv[0] = 1.f;
        cu[0] = cv[0] = 1.f;
    }
#pragma unroll
    for (int l = 0; l < NS - 1; l++) s.sg[l] = tanhf(th[T_TAUS] * (r * ut[C_S + l]) + th[T_BS + l]);
#pragma unroll
    for (int i = 0; i < NS; i++)
#pragma unroll
        for (int l = 0; l < NS - 1; l++) {
            float a = 0.f, b = 0.f;
#pragma unroll
            for (int m = 0; m < NS - 1; m++) { a += helmert(i, m) * cu[m * NM + l]; b += helmert(i, m) * cv[m * NM + l]; }
            s.p[i * NM + l] = a;
            s.q[i * NM + l] = b;
        }
}

// H_pre, H_post of one token (z = r·u).
__device__ void gates(const float* ut, float r, const float* th, float (&pre)[NS], float (&post)[NS]) {
#pragma unroll
    for (int i = 0; i < NS; i++) {
        if constexpr (PAR == HC) {
            if constexpr (DYN) {
                pre[i] = th[T_APRE] * tanhf(r * ut[C_PRE + i]) + th[T_BPRE + i];
                post[i] = th[T_APOST] * tanhf(r * ut[C_POST + i]) + th[T_BPOST + i];
            } else {
                pre[i] = th[T_BPRE + i];
                post[i] = th[T_BPOST + i];
            }
        } else {
            pre[i] = sigm(th[T_APRE] * (r * ut[C_PRE + i]) + th[T_BPRE + i]);
            post[i] = 2.f * sigm(th[T_APOST] * (r * ut[C_POST + i]) + th[T_BPOST + i]);
        }
    }
}

// mHC-lite's softmax statistics over the n! logits a_k = α z_k + b_k: the max and the sum of exp(a - max).
__device__ void liteStats(const float* ut, float r, const float* th, float& mx, float& sum) {
    mx = __int_as_float(0xff800000);
    for (int k = 0; k < NF; k++) mx = fmaxf(mx, th[T_ARES] * (r * ut[C_RES + k]) + th[T_RES + k]);
    sum = 0.f;
    for (int k = 0; k < NF; k++) sum += expf(th[T_ARES] * (r * ut[C_RES + k]) + th[T_RES + k] - mx);
}

}  // namespace sm

using namespace sm;

// r[t] = 1/sqrt(mean(x_t^2) + eps) over the D = nC values of token t; a warp per token.
extern "C" __global__ void sm_rms(const xs_t* __restrict__ x, float* __restrict__ r, int tokens, int d) {
    int t = (int) ((blockIdx.x * (long long) blockDim.x + threadIdx.x) >> 5);
    int lane = threadIdx.x & 31;
    if (t >= tokens) return;                       // whole warps leave together
    const xs_t* xt = x + (long long) t * d;
    float s = 0.f;
    for (int i = lane; i < d; i += 32) { float v = load(xt + i); s += v * v; }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
    if (lane == 0) r[t] = 1.f / sqrtf(s / (float) d + SM_EPS);
}

// Blocks' parameters into their Φ_cat [d, M] and theta in one launch (a launch per parameter, or per block, cost more
// than its copies): row blockIdx.y of table [slots][8] = {address, width, offset, matrix, Φ_cat address, theta address,
// d, split address or 0} names one parameter; a matrix [d, width] fills Φ_cat's columns offset.., anything else
// theta[offset ..]. Where bf16 streams' projections read Φ_cat as bf16 (sm_project), its matrices also go to the split
// copy [d][2][MS] bf16: row q holds Φ_cat's row split into high parts (columns 0 .. MS - 1) and remainders (MS ..)
// by split_bf16, so the products' B fragments come by ldmatrix with no conversions (zeros past M).
extern "C" __global__ void sm_pack(const long long* __restrict__ table) {
    const long long* e = table + 8 * blockIdx.y;
    const float* src = reinterpret_cast<const float*>(e[0]);
    const int w = (int) e[1], off = (int) e[2];
    const bool matrix = e[3] != 0;
    float* phi = reinterpret_cast<float*>(e[4]);
    float* theta = reinterpret_cast<float*>(e[5]);
    bf16_t* split = reinterpret_cast<bf16_t*>(e[7]);
    constexpr int MM = M > 0 ? M : 1;                      // Φ_cat's columns as stored
    constexpr int MS = (MM + 7) / 8 * 8;                    // the split copy's columns a half (whole n8 tiles)
    const long long count = matrix ? e[6] * w : w;
    for (long long k = blockIdx.x * (long long) blockDim.x + threadIdx.x; k < count; k += (long long) gridDim.x * blockDim.x) {
        if (matrix) {
            const long long row = k / w, col = off + (k - row * w);
            const float v = src[k];
            phi[row * MM + col] = v;
            if (split) split_bf16(v, split[row * 2 * MS + col], split[row * 2 * MS + MS + col]);
        } else {
            theta[off + k] = src[k];
        }
    }
}

// The parameters' gradients ADDED into each parameter's own, from the partial sums the backward left (several blocks'
// in one launch: a launch per block cost more than its sums): row blockIdx.y of table [slots][8] = {gradient address,
// width, offset, matrix, partials address, rows, d, 0} names one parameter; a matrix [d, width] adds Σ over the rows of
// partials [rows, d, M] (dΦ_cat's) of columns offset.., anything else Σ over the rows of partials [rows, TH] of theta[offset ..].
extern "C" __global__ void sm_grads_add(const long long* __restrict__ table) {
    const long long* e = table + 8 * blockIdx.y;
    float* dst = reinterpret_cast<float*>(e[0]);
    const int w = (int) e[1], off = (int) e[2], rows = (int) e[5];
    const bool matrix = e[3] != 0;
    const float* src = reinterpret_cast<const float*>(e[4]);
    constexpr int MM = M > 0 ? M : 1;                      // Φ_cat's columns (its gradient's rows as stored)
    const long long d = e[6], count = matrix ? d * w : w, pitch = matrix ? d * MM : TH;
    for (long long k = blockIdx.x * (long long) blockDim.x + threadIdx.x; k < count; k += (long long) gridDim.x * blockDim.x) {
        const long long row = k / w, at = matrix ? row * MM + off + (k - row * w) : off + k;
        float s = 0.f;
        for (int y = 0; y < rows; y++) s += src[y * pitch + at];
        dst[k] += s;
    }
}

// out[chunk, col] = Σ rows of chunk blockIdx.y of part [rows, cols]; block (32, 8), grid (ceil(cols/32), chunks): the
// per-token parameter gradients into chunk sums, which sm_grads_add sums: deterministic, no atomics.
extern "C" __global__ void sm_sum_rows(const float* __restrict__ part, float* __restrict__ out, int rows, int cols) {
    __shared__ float acc[8][33];
    int col = blockIdx.x * 32 + threadIdx.x;
    int per = (rows + gridDim.y - 1) / gridDim.y;
    int r0 = blockIdx.y * per, r1 = min(rows, r0 + per);
    float s = 0.f;
    if (col < cols)
        for (int r = r0 + threadIdx.y; r < r1; r += 8) s += part[(long long) r * cols + col];
    acc[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && col < cols) {
        float a = 0.f;
#pragma unroll
        for (int k = 0; k < 8; k++) a += acc[k][threadIdx.x];
        out[(long long) blockIdx.y * cols + col] = a;
    }
}

// mHC in the plain domain with n <= 4 runs its maps on LP = NP lanes per token (NP: the next power of two >= n; a lane
// past n idles at 0): lane i holds row i of the Sinkhorn iterate, a row sum stays in the thread, a column sum is a
// shuffle, and each lane keeps its row's and column i's normalisers in registers. At one thread per token the
// backward kept 640 bytes of normalisers in local memory and had too few threads to hide latency; at a lane per
// entry (16 per token) it was latency-bound by its shuffle chains (H200, N = 16k: 30.9 and 29.6 us per block).
namespace sm {
constexpr int NP = NS <= 2 ? 2 : 4;
constexpr bool LANES = PAR == MHC && SM_LOG == 0 && NS >= 2 && NS <= 4 && SM_ITERS <= 32;
constexpr int LP = LANES ? NP : 1;                 // threads per token of the maps (forward and backward)

// Σ of v over the token's lanes.
__device__ __forceinline__ float lane_sum(float v) {
#pragma unroll
    for (int o = 1; o < NP; o <<= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// The token and row of this thread; a thread past the last token works on the last one (every lane of a token must
// take part in the shuffles) and writes nothing.
struct Lane {
    long long t;
    int i, base;                                   // the row, the token's first lane in the warp
    bool live, on;
    // gid: the thread's index among those of the tokens' lanes (token gid / LP, row gid % LP)
    __device__ __forceinline__ Lane(long long gid, int tokens) {
        live = gid / LP < tokens;
        t = live ? gid / LP : tokens - 1;
        i = (int) (gid % LP);
        base = (threadIdx.x & 31) & ~(NP - 1);
        on = i < NS;
    }
};

// SM_SK_SHARE=1: each lane divides once, by its own column's sum, and the token's lanes trade the reciprocals by
// shuffles, where every lane divides by every column's sum (the same bits: a column's sum is the same on every lane, and
// so is its reciprocal; a timing tunable like the blockings below).
#ifndef SM_SK_SHARE
#define SM_SK_SHARE 0
#endif

// Row i of the Sinkhorn projection of M0 (m: its entries, zeros when idle), as sinkhorn(); sc / sr (when non-null)
// receive column i's and row i's sum of every iteration.
__device__ __forceinline__ void sinkhorn_row(float (&m)[NS], const Lane& ln, float* sc, float* sr) {
#pragma unroll
    for (int t = 0; t < SM_ITERS; t++) {
        float own = 0.f;
#if SM_SK_SHARE
#pragma unroll
        for (int j = 0; j < NS; j++) {
            const float s = lane_sum(m[j]);
            own = j == ln.i ? s : own;
        }
        const float inv_own = 1.f / own;                // (an idle lane's is never read)
#pragma unroll
        for (int j = 0; j < NS; j++) m[j] *= __shfl_sync(0xffffffffu, inv_own, ln.base + j);
#else
#pragma unroll
        for (int j = 0; j < NS; j++) {
            const float s = lane_sum(m[j]);
            own = j == ln.i ? s : own;
            m[j] *= 1.f / s;
        }
#endif
        if (sc) sc[t] = own;
        float s = 0.f;
#pragma unroll
        for (int j = 0; j < NS; j++) s += m[j];
        const float inv = ln.on ? 1.f / s : 0.f;
#pragma unroll
        for (int j = 0; j < NS; j++) m[j] *= inv;
        if (sr) sr[t] = s;
    }
}

// dL/dlogits of row i from g = dL/dH_res's row (as sinkhornBackward): y the projection's row, m0 = exp(logits).
__device__ __forceinline__ void sinkhorn_row_backward(float (&g)[NS], float (&y)[NS], const float (&m0)[NS], const Lane& ln,
                                                      const float* sc, const float* sr) {
#pragma unroll
    for (int t = SM_ITERS - 1; t >= 0; t--) {
        float dot = 0.f;
#pragma unroll
        for (int j = 0; j < NS; j++) dot += g[j] * y[j];
        const float inv = ln.on ? 1.f / sr[t] : 0.f;
#pragma unroll
        for (int j = 0; j < NS; j++) { g[j] = (g[j] - dot) * inv; y[j] *= sr[t]; }
#if SM_SK_SHARE
        const float inv_sc = 1.f / sc[t];
#endif
#pragma unroll
        for (int j = 0; j < NS; j++) {
            const float s = __shfl_sync(0xffffffffu, sc[t], ln.base + j), cd = lane_sum(g[j] * y[j]);
#if SM_SK_SHARE
            const float inv = __shfl_sync(0xffffffffu, inv_sc, ln.base + j);
#else
            const float inv = 1.f / s;
#endif
            g[j] = ln.on ? (g[j] - cd) * inv : 0.f;
            y[j] *= s;
        }
    }
#pragma unroll
    for (int j = 0; j < NS; j++) g[j] *= m0[j];
}

// The maps of token ln.t from its projections ut (M values) and r.
__device__ void maps_forward_lanes(const Lane& ln, const float* ut, float r, const float* __restrict__ th,
                                   float* __restrict__ pre, float* __restrict__ post, float* __restrict__ res) {
    float m[NS];
#pragma unroll
    for (int j = 0; j < NS; j++) m[j] = ln.on ? expf(th[T_ARES] * (r * ut[C_RES + ln.i * NS + j]) + th[T_RES + ln.i * NS + j]) : 0.f;
    sinkhorn_row(m, ln, nullptr, nullptr);
    if (!ln.live || !ln.on) return;
#pragma unroll
    for (int j = 0; j < NS; j++) res[ln.t * NS * NS + ln.i * NS + j] = m[j];
    pre[ln.t * NS + ln.i] = sigm(th[T_APRE] * (r * ut[C_PRE + ln.i]) + th[T_BPRE + ln.i]);
    post[ln.t * NS + ln.i] = 2.f * sigm(th[T_APOST] * (r * ut[C_POST + ln.i]) + th[T_BPOST + ln.i]);
}

// Token ln.t's backward from its projections ut and r, dp = dL/dH_pre of row ln.i, and dpost, dres.
__device__ void maps_backward_lanes(const Lane& ln, const float* ut, float r, float dp, const float* __restrict__ th,
                                    const float* __restrict__ dpost, const float* __restrict__ dres,
                                    float* __restrict__ dzr, float* __restrict__ coef, float* __restrict__ part, int d) {
    float* dz = dzr + ln.t * M;
    float* pt = part + ln.t * TH;
    const bool write = ln.live && ln.on;
    float da[3] = {0.f, 0.f, 0.f}, dot = 0.f;     // this lane's share of dα_pre, dα_post, dα_res and Σ dL/dz·u
    if (ln.on) {                                   // gates H_pre,i and H_post,i
        const float za = r * ut[C_PRE + ln.i], zb = r * ut[C_POST + ln.i];
        const float a = sigm(th[T_APRE] * za + th[T_BPRE + ln.i]), b = sigm(th[T_APOST] * zb + th[T_BPOST + ln.i]);
        const float ga = dp * a * (1.f - a), gb = dpost[ln.t * NS + ln.i] * 2.f * b * (1.f - b);
        if (write) {
            pt[T_BPRE + ln.i] = ga;
            pt[T_BPOST + ln.i] = gb;
            dz[C_PRE + ln.i] = r * ga * th[T_APRE];
            dz[C_POST + ln.i] = r * gb * th[T_APOST];
        }
        da[0] = ga * za;
        da[1] = gb * zb;
        dot = ga * th[T_APRE] * ut[C_PRE + ln.i] + gb * th[T_APOST] * ut[C_POST + ln.i];
    }
    // H_res's row i: Sinkhorn again, then back through it
    float m0[NS], y[NS], g[NS], sc[SM_ITERS], sr[SM_ITERS];
#pragma unroll
    for (int j = 0; j < NS; j++) {
        const int k = ln.i * NS + j;
        m0[j] = y[j] = ln.on ? expf(th[T_ARES] * (r * ut[C_RES + k]) + th[T_RES + k]) : 0.f;
        g[j] = ln.on ? dres[ln.t * NS * NS + k] : 0.f;
    }
    sinkhorn_row(y, ln, sc, sr);
    sinkhorn_row_backward(g, y, m0, ln, sc, sr);
    if (ln.on)
#pragma unroll
        for (int j = 0; j < NS; j++) {
            const int k = ln.i * NS + j;
            if (write) { pt[T_RES + k] = g[j]; dz[C_RES + k] = r * g[j] * th[T_ARES]; }
            da[2] += g[j] * (r * ut[C_RES + k]);
            dot += g[j] * th[T_ARES] * ut[C_RES + k];
        }
#pragma unroll
    for (int e = 0; e < 3; e++) da[e] = lane_sum(da[e]);
    dot = lane_sum(dot);
    if (ln.live && ln.i == 0) {
        pt[T_APRE] = da[0];
        pt[T_APOST] = da[1];
        pt[T_ARES] = da[2];
        coef[ln.t] = -dot * r * r * r / (float) d;
    }
}

// Token t's H_pre [n], H_post [n], H_res [n, n] (rows t of pre, post, res) from its projections ut (M values) and r.
__device__ void maps_forward_token(long long t, const float* ut, float r, const float* __restrict__ th,
                                   const int* __restrict__ perms, float* __restrict__ pre, float* __restrict__ post,
                                   float* __restrict__ res) {
    float p[NS], q[NS], h[NS * NS];
    gates(ut, r, th, p, q);
    if constexpr (PAR == HC) {
#pragma unroll
        for (int k = 0; k < NS * NS; k++) h[k] = DYN ? th[T_ARES] * tanhf(r * ut[C_RES + k]) + th[T_RES + k] : th[T_RES + k];
    } else if constexpr (PAR == MHC) {
        float lf[NS * NS];
#pragma unroll
        for (int k = 0; k < NS * NS; k++) h[k] = th[T_ARES] * (r * ut[C_RES + k]) + th[T_RES + k];
        sinkhorn(h, nullptr, lf);
    } else if constexpr (PAR == LITE) {
        float mx, sum;
        liteStats(ut, r, th, mx, sum);
#pragma unroll
        for (int k = 0; k < NS * NS; k++) h[k] = 0.f;
        for (int k = 0; k < NF; k++) {
            float w = expf(th[T_ARES] * (r * ut[C_RES + k]) + th[T_RES + k] - mx) / sum;
#pragma unroll
            for (int i = 0; i < NS; i++) {
                int c = perms[k * NS + i];
#pragma unroll
                for (int j = 0; j < NS; j++) h[i * NS + j] += c == j ? w : 0.f;
            }
        }
    } else {
        if constexpr (NS == 1) {
            h[0] = 1.f;
        } else {
            Spectral s;
            spectral(ut, r, th, s);
#pragma unroll
            for (int i = 0; i < NS; i++)
#pragma unroll
                for (int j = 0; j < NS; j++) {
                    float a = 1.f / NS;
#pragma unroll
                    for (int l = 0; l < NS - 1; l++) a += s.p[i * NM + l] * s.sg[l] * s.q[j * NM + l];
                    h[i * NS + j] = a;
                }
        }
    }
#pragma unroll
    for (int i = 0; i < NS; i++) { pre[t * NS + i] = p[i]; post[t * NS + i] = q[i]; }
#pragma unroll
    for (int k = 0; k < NS * NS; k++) res[t * NS * NS + k] = h[k];
}

// The maps of the tokens whose u and r the calling threads hold, LP threads per token: thread index gid (of
// tokens·LP) takes token gid / LP; ut(t) and rt(t) give a token's projections and r.
template <typename U, typename R>
__device__ __forceinline__ void maps_forward(long long gid, int tokens, U ut, R rt, const float* __restrict__ th,
                                             const int* __restrict__ perms, float* __restrict__ pre, float* __restrict__ post,
                                             float* __restrict__ res) {
    if constexpr (LANES) {
        const Lane ln(gid, tokens);
        maps_forward_lanes(ln, ut(ln.t), rt(ln.t), th, pre, post, res);
    } else if (gid < tokens) {
        maps_forward_token(gid, ut(gid), DYN ? rt(gid) : 0.f, th, perms, pre, post, res);
    }
}
}  // namespace sm

// H_pre [N, n], H_post [N, n], H_res [N, n, n] from u = x_flat·Φ_cat [N, M] and r [N], LP threads per token (where
// the projections are not sm_project's, which computes the maps itself).
extern "C" __global__ void sm_maps_forward(const float* __restrict__ u, const float* __restrict__ rr,
                                           const float* __restrict__ th, const int* __restrict__ perms,
                                           float* __restrict__ pre, float* __restrict__ post, float* __restrict__ res,
                                           int tokens) {
    maps_forward(blockIdx.x * (long long) blockDim.x + threadIdx.x, tokens, [&](long long t) { return u + t * M; },
                 [&](long long t) { return rr[t]; }, th, perms, pre, post, res);
}
namespace sm {

// Token t's backward from dH_pre (dp, n values), dH_post, dH_res to dzr = r·dL/dz [N, M] (the projections' operand),
// the RMSNorm coefficient coef [N] (dx += coef·x) and the token's share of every small parameter's gradient, part [N, TH].
__device__ void maps_backward_token(long long t, const float* ut, float r, const float* dp, const float* __restrict__ th,
                                    const int* __restrict__ perms, const float* __restrict__ dpost,
                                    const float* __restrict__ dres, float* __restrict__ dzr, float* __restrict__ coef,
                                    float* __restrict__ part, int d) {
    float* dz = dzr + t * M;
    float* pt = part + t * TH;
    float dot = 0.f;                               // Σ_j dL/dz_j · u_j, for the RMSNorm path
    float da[3] = {0.f, 0.f, 0.f};                 // α_pre, α_post, α_res

    // gates
#pragma unroll
    for (int i = 0; i < NS; i++) {
        float gp = dp[i], gq = dpost[t * NS + i];
        if constexpr (PAR == HC) {
            pt[T_BPRE + i] = gp;
            pt[T_BPOST + i] = gq;
            if constexpr (DYN) {
                float a = tanhf(r * ut[C_PRE + i]), b = tanhf(r * ut[C_POST + i]);
                da[0] += gp * a;
                da[1] += gq * b;
                float za = gp * th[T_APRE] * (1.f - a * a), zb = gq * th[T_APOST] * (1.f - b * b);
                dz[C_PRE + i] = r * za;
                dz[C_POST + i] = r * zb;
                dot += za * ut[C_PRE + i] + zb * ut[C_POST + i];
            }
        } else {
            float za = r * ut[C_PRE + i], zb = r * ut[C_POST + i];
            float a = sigm(th[T_APRE] * za + th[T_BPRE + i]), b = sigm(th[T_APOST] * zb + th[T_BPOST + i]);
            float ga = gp * a * (1.f - a), gb = gq * 2.f * b * (1.f - b);
            pt[T_BPRE + i] = ga;
            pt[T_BPOST + i] = gb;
            da[0] += ga * za;
            da[1] += gb * zb;
            float dza = ga * th[T_APRE], dzb = gb * th[T_APOST];
            dz[C_PRE + i] = r * dza;
            dz[C_POST + i] = r * dzb;
            dot += dza * ut[C_PRE + i] + dzb * ut[C_POST + i];
        }
    }

    float g[NS * NS];
#pragma unroll
    for (int k = 0; k < NS * NS; k++) g[k] = dres[t * NS * NS + k];
    if constexpr (PAR == HC) {
#pragma unroll
        for (int k = 0; k < NS * NS; k++) {
            pt[T_RES + k] = g[k];
            if constexpr (DYN) {
                float a = tanhf(r * ut[C_RES + k]);
                da[2] += g[k] * a;
                float zk = g[k] * th[T_ARES] * (1.f - a * a);
                dz[C_RES + k] = r * zk;
                dot += zk * ut[C_RES + k];
            }
        }
    } else if constexpr (PAR == MHC) {
        float logits[NS * NS], h[NS * NS], lf[NS * NS], sv[SV];
#pragma unroll
        for (int k = 0; k < NS * NS; k++) h[k] = logits[k] = th[T_ARES] * (r * ut[C_RES + k]) + th[T_RES + k];
        sinkhorn(h, sv, lf);
        sinkhornBackward(g, h, lf, sv, logits);
#pragma unroll
        for (int k = 0; k < NS * NS; k++) {
            float zk = r * ut[C_RES + k];
            pt[T_RES + k] = g[k];
            da[2] += g[k] * zk;
            float dzk = g[k] * th[T_ARES];
            dz[C_RES + k] = r * dzk;
            dot += dzk * ut[C_RES + k];
        }
    } else if constexpr (PAR == LITE) {
        float mx, sum;
        liteStats(ut, r, th, mx, sum);
        float wg = 0.f;                            // Σ_k w_k dw_k
        for (int k = 0; k < NF; k++) {
            float w = expf(th[T_ARES] * (r * ut[C_RES + k]) + th[T_RES + k] - mx) / sum, dw = 0.f;
#pragma unroll
            for (int i = 0; i < NS; i++) {
                int c = perms[k * NS + i];
#pragma unroll
                for (int j = 0; j < NS; j++) dw += c == j ? g[i * NS + j] : 0.f;
            }
            wg += w * dw;
        }
        for (int k = 0; k < NF; k++) {
            float zk = r * ut[C_RES + k];
            float w = expf(th[T_ARES] * zk + th[T_RES + k] - mx) / sum, dw = 0.f;
#pragma unroll
            for (int i = 0; i < NS; i++) {
                int c = perms[k * NS + i];
#pragma unroll
                for (int j = 0; j < NS; j++) dw += c == j ? g[i * NS + j] : 0.f;
            }
            float ga = w * (dw - wg);              // softmax backward
            pt[T_RES + k] = ga;
            da[2] += ga * zk;
            float dzk = ga * th[T_ARES];
            dz[C_RES + k] = r * dzk;
            dot += dzk * ut[C_RES + k];
        }
    } else {
#pragma unroll
        for (int k = T_RES; k < TH; k++) pt[k] = 0.f;
        if constexpr (NS > 1) {
            Spectral s;
            spectral(ut, r, th, s);
            // H = J + P Σ Qᵀ: dP = G Q Σ, dQ = Gᵀ P Σ, dΣ_l = Σ_i P_il (G Q)_il
            float dp[NS * NM], dq[NS * NM], ds[NM];
#pragma unroll
            for (int l = 0; l < NS - 1; l++) {
                float acc = 0.f;
#pragma unroll
                for (int i = 0; i < NS; i++) {
                    float gq = 0.f, gp = 0.f;
#pragma unroll
                    for (int j = 0; j < NS; j++) { gq += g[i * NS + j] * s.q[j * NM + l]; gp += g[j * NS + i] * s.p[j * NM + l]; }
                    acc += s.p[i * NM + l] * gq;
                    dp[i * NM + l] = gq * s.sg[l];
                    dq[i * NM + l] = gp * s.sg[l];
                }
                ds[l] = acc;
            }
            float dtaus = 0.f;
#pragma unroll
            for (int l = 0; l < NS - 1; l++) {
                float gl = ds[l] * (1.f - s.sg[l] * s.sg[l]);
                float zl = r * ut[C_S + l];
                pt[T_BS + l] = gl;
                dtaus += gl * zl;
                float dzl = gl * th[T_TAUS];
                dz[C_S + l] = r * dzl;
                dot += dzl * ut[C_S + l];
            }
            pt[T_TAUS] = dtaus;
            if constexpr (KS > 0) {
#pragma unroll
                for (int side = 0; side < 2; side++) {
                    const float* dpq = side == 0 ? dp : dq;
                    const float* mi = side == 0 ? s.mu : s.mv;
                    const float* tt = side == 0 ? s.tu : s.tv;
                    int cz = side == 0 ? C_U : C_V, tb = side == 0 ? T_BU : T_BV;
                    int ttau = side == 0 ? T_TAUU : T_TAUV, tgam = side == 0 ? T_GAMU : T_GAMV;
                    // dCore = U_Zᵀ dP; dA = Mᵀ (2 dCore) Mᵀ
                    float dc[NM * NM], t1[NM * NM];
#pragma unroll
                    for (int m = 0; m < NM; m++)
#pragma unroll
                        for (int l = 0; l < NM; l++) {
                            float a = 0.f;
#pragma unroll
                            for (int i = 0; i < NS; i++) a += helmert(i, m) * dpq[i * NM + l];
                            dc[m * NM + l] = 2.f * a;
                        }
#pragma unroll
                    for (int a = 0; a < NM; a++)
#pragma unroll
                        for (int e = 0; e < NM; e++) {
                            float acc = 0.f;
#pragma unroll
                            for (int c = 0; c < NM; c++) acc += mi[c * NM + a] * dc[c * NM + e];
                            t1[a * NM + e] = acc;
                        }
                    float dtau = 0.f, dgam = 0.f;
                    int k = 0;
#pragma unroll
                    for (int i = 0; i < NM; i++)
#pragma unroll
                        for (int j = i + 1; j < NM; j++) {
                            float aij = 0.f, aji = 0.f;   // (t1 Mᵀ)_ij and _ji
#pragma unroll
                            for (int e = 0; e < NM; e++) { aij += t1[i * NM + e] * mi[j * NM + e]; aji += t1[j * NM + e] * mi[i * NM + e]; }
                            float dth = aij - aji;
                            dgam += dth * tt[k];
                            float gk = dth * th[tgam] * (1.f - tt[k] * tt[k]);
                            float zk = r * ut[cz + k];
                            pt[tb + k] = gk;
                            dtau += gk * zk;
                            float dzk = gk * th[ttau];
                            dz[cz + k] = r * dzk;
                            dot += dzk * ut[cz + k];
                            k++;
                        }
                    pt[ttau] = dtau;
                    pt[tgam] = dgam;
                }
            }
        }
    }
    pt[T_APRE] = da[0];
    pt[T_APOST] = da[1];
    if constexpr (PAR != SHC) pt[T_ARES] = da[2];
    else pt[T_ARES] = 0.f;
    if (DYN) coef[t] = -dot * r * r * r / (float) d;
}
}  // namespace sm

// h[t, c] = Σ_i H_pre[t, i] x[t, i, c]; a thread per (t, V columns): V = 16 bytes' worth of the streams' dtype (4 fp32,
// 8 bf16; x, h 16-byte aligned, C a multiple of V) moves 16 bytes per access and reads the token's maps once per V
// columns, V = 1 otherwise. bf16 streams also build V = 4 (8-byte accesses) for tensors only 8-byte aligned.
// s = Σ_k p[k] x_k at the V columns xt points to in stream 0 (streams c apart), k in order: the sums sm_aggregate and
// sm_aggregate_layernorm both make, so they round h alike.
template <int V>
__device__ __forceinline__ void aggregate_at(const xs_t* __restrict__ xt, const float* p, int c, float (&s)[V]) {
    float xv[V];
#pragma unroll
    for (int v = 0; v < V; v++) s[v] = 0.f;
#pragma unroll
    for (int k = 0; k < NS; k++) {
        loadv<V>(xt + (long long) k * c, xv);
#pragma unroll
        for (int v = 0; v < V; v++) s[v] += p[k] * xv[v];
    }
}
template <int V>
__device__ __forceinline__ void aggregate_cols(const xs_t* __restrict__ x, const float* __restrict__ pre, xs_t* __restrict__ h,
                                               int tokens, int c) {
    const long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x, g = c / V;
    if (i >= tokens * g) return;
    const long long t = i / g;
    const int cc = (int) (i - t * g) * V;
    float s[V];
    aggregate_at<V>(x + t * NS * c + cc, pre + t * NS, c, s);
    storev<V>(h + t * c + cc, s);
}
extern "C" __global__ void sm_aggregate(const xs_t* __restrict__ x, const float* __restrict__ pre, xs_t* __restrict__ h,
                                        int tokens, int c, int vec) {
#if SM_XBF16
    if (vec == 8) aggregate_cols<8>(x, pre, h, tokens, c);
    else
#endif
    if (vec == 4) aggregate_cols<4>(x, pre, h, tokens, c);
    else aggregate_cols<1>(x, pre, h, tokens, c);
}

// sm_aggregate and the sublayer's LayerNorm of h in one pass over the streams, for bf16 streams: a warp per token
// computes h = Σ_i H_pre,i x_i as sm_aggregate does (same sums, same rounding) and writes it for the backward, then
// ln = LN(h) in bf16 (the GEMM's operand), mean and rstd from the rounded h in registers (layernorm.cuh), so h is not
// read back: bit for bit sm_aggregate then layernorm_forward_bf16_xbf16. Needs C % 4 == 0, C <= 128·LN_FWD_K and x,
// h, ln, gamma, beta 8-byte aligned (StreamMaps checks).
extern "C" __global__ void sm_aggregate_layernorm(const xs_t* __restrict__ x, const float* __restrict__ pre,
        xs_t* __restrict__ h, xs_t* __restrict__ ln, float* __restrict__ mean, float* __restrict__ rstd,
        const float* __restrict__ gamma, const float* __restrict__ beta, int tokens, int c, float eps) {
#if SM_XBF16
    const long long t = blockIdx.x * (long long) (blockDim.x / 32) + threadIdx.x / 32;
    if (t >= tokens) return;
    float p[NS];
#pragma unroll
    for (int k = 0; k < NS; k++) p[k] = pre[t * NS + k];
    const xs_t* xt = x + t * NS * c;
    xs_t* ht = h + t * c;
    layernorm_row_regs(ln + t * c, mean + t, rstd + t, [&](int cc, float (&a)[4]) {
        aggregate_at<4>(xt + cc, p, c, a);
        storev<4>(ht + cc, a);
#pragma unroll
        for (int v = 0; v < 4; v++) a[v] = as_stored(a[v], ht);   // the LayerNorm reads h as stored
    }, gamma, beta, c, eps);
#endif
}

// out[t, i, c] = Σ_j H_res[t, i, j] x[t, j, c] + H_post[t, i] f[t, c]; a thread per (t, V columns) as for sm_aggregate.
// f, the sublayer's output, is stored as the streams are (bf16 streams: half the bytes of its write and two reads).
template <int V>
__device__ __forceinline__ void merge_cols(const xs_t* __restrict__ x, const xs_t* __restrict__ f, const float* __restrict__ post,
                                           const float* __restrict__ res, xs_t* __restrict__ out, int tokens, int c) {
    const long long i = blockIdx.x * (long long) blockDim.x + threadIdx.x, g = c / V;
    if (i >= tokens * g) return;
    const long long t = i / g;
    const int cc = (int) (i - t * g) * V;
    const xs_t* xt = x + t * NS * c + cc;
    const float* ht = res + t * NS * NS;
    float xv[NS][V], fv[V];
#pragma unroll
    for (int j = 0; j < NS; j++) loadv<V>(xt + (long long) j * c, xv[j]);
    loadv<V>(f + t * c + cc, fv);
#pragma unroll
    for (int k = 0; k < NS; k++) {
        const float p = post[t * NS + k];
        float o[V];
#pragma unroll
        for (int v = 0; v < V; v++) o[v] = p * fv[v];
#pragma unroll
        for (int j = 0; j < NS; j++) {
            const float hk = ht[k * NS + j];
#pragma unroll
            for (int v = 0; v < V; v++) o[v] += hk * xv[j][v];
        }
        storev<V>(out + t * NS * c + (long long) k * c + cc, o);
    }
}
extern "C" __global__ void sm_merge(const xs_t* __restrict__ x, const xs_t* __restrict__ f, const float* __restrict__ post,
                                    const float* __restrict__ res, xs_t* __restrict__ out, int tokens, int c, int vec) {
#if SM_XBF16
    if (vec == 8) merge_cols<8>(x, f, post, res, out, tokens, c);
    else
#endif
    if (vec == 4) merge_cols<4>(x, f, post, res, out, tokens, c);
    else merge_cols<1>(x, f, post, res, out, tokens, c);
}

// A warp per token (SM_RED_THREADS / 32 tokens per block, or with dbias a grid that walks the tokens): df = Σ_i H_post,i
// dOut_i (overwritten), dres[t, i, j] = <dOut_i, x_j>, dpost[t, i] = <dOut_i, f>. The streams' own gradient H_resᵀ dOut
// is sm_stream_backward's, in its one pass over dx. Each lane takes V columns at a time (V as for sm_aggregate: 16-byte
// accesses of the streams); the sums need only shuffles (a block per token spent 4x the shuffles and a shared-memory
// round on them, and left a quarter of its threads idle at C = 768, V = 8). df is fp32, or bf16 (T) where the sublayer's
// backward GEMMs are all that read it: rounded here, with no fp32 copy and no cast pass. dbias (or null) += the column
// sums of df in fp32: the bias gradient of the sublayer's output projection, whose weight-gradient GEMM then needs no
// epilogue; each warp sums its tokens in its own slice of dynamic shared memory and the block adds the slices once at
// the end. A slice is lane-major (column lane·V + v + 32V·k at [(k·V + v)·32 + lane], SM_BIAS_SLICE(c) floats), so a
// warp's adds hit 32 banks: column-major, V = 8 put 8 lanes on each bank and cost 19 us a call at preset M (H100).
// The block's atomics go in column order, 4 columns a vector reduction: in slice order a warp's 32 atomics at stride V
// touched 32 sectors, and the kernel took 0.176 ms a call against 0.105 before the slices (ncu, H100, preset M); in
// column order 0.1008 against that 0.1055 (kernels-fc42904-h100.json).
template <int V, typename T>
__device__ __forceinline__ void merge_backward_cols(const xs_t* __restrict__ dout, const xs_t* __restrict__ x,
        const xs_t* __restrict__ f, const float* __restrict__ post, T* __restrict__ df, float* __restrict__ dres,
        float* __restrict__ dpost, float* __restrict__ dbias, int tokens, int c) {
    extern __shared__ float bias_slices[];
    constexpr int WARPS = SM_RED_THREADS / 32;
    const int lane = threadIdx.x & 31, warp = threadIdx.x / 32;
    const int slice = SM_BIAS_SLICE(c, V);
    float* sb = dbias ? bias_slices + warp * slice + lane : nullptr;   // this lane's entries: sb[(k·V + v)·32]
    if (sb) {
        for (int e = lane; e < slice; e += 32) bias_slices[warp * slice + e] = 0.f;
        __syncwarp();
    }
    for (long long t = blockIdx.x * (long long) WARPS + warp; t < tokens; t += (long long) gridDim.x * WARPS) {
        const xs_t* go = dout + t * NS * c;
        const xs_t* xt = x + t * NS * c;
        const xs_t* ft = f + t * c;
        float hp[NS];
#pragma unroll
        for (int k = 0; k < NS; k++) hp[k] = post[t * NS + k];
        float acc[NS * NS + NS];
#pragma unroll
        for (int k = 0; k < NS * NS + NS; k++) acc[k] = 0.f;
        for (int cc = lane * V; cc < c; cc += 32 * V) {
            float gv[NS][V], xv[NS][V], fv[V], sf[V];
#pragma unroll
            for (int k = 0; k < NS; k++) {
                loadv<V>(go + (long long) k * c + cc, gv[k]);
                loadv<V>(xt + (long long) k * c + cc, xv[k]);
            }
            loadv<V>(ft + cc, fv);
#pragma unroll
            for (int v = 0; v < V; v++) {
                sf[v] = 0.f;
#pragma unroll
                for (int i = 0; i < NS; i++) {
                    sf[v] += hp[i] * gv[i][v];
#pragma unroll
                    for (int j = 0; j < NS; j++) acc[i * NS + j] += gv[i][v] * xv[j][v];
                    acc[NS * NS + i] += gv[i][v] * fv[v];
                }
            }
            storev<V>(df + t * c + cc, sf);
            if (sb)
#pragma unroll
                for (int v = 0; v < V; v++) sb[(cc / (32 * V) * V + v) * 32] += sf[v];
        }
#pragma unroll
        for (int k = 0; k < NS * NS + NS; k++)
#pragma unroll
            for (int o = 16; o > 0; o >>= 1) acc[k] += __shfl_xor_sync(0xffffffffu, acc[k], o);
        if (lane == 0) {
#pragma unroll
            for (int k = 0; k < NS * NS; k++) dres[t * NS * NS + k] = acc[k];
#pragma unroll
            for (int k = 0; k < NS; k++) dpost[t * NS + k] = acc[NS * NS + k];
        }
    }
    if (dbias) {
        __syncthreads();
        auto column = [&](int cc) {   // the warps' sums of column cc
            const int r = cc % (32 * V), e = (cc / (32 * V) * V + r % V) * 32 + r / V;
            float sum = 0.f;
#pragma unroll
            for (int w = 0; w < WARPS; w++) sum += bias_slices[w * slice + e];
            return sum;
        };
        constexpr int W = V >= 4 ? 4 : 1;   // columns a thread: one vector reduction (c % V == 0)
        if (W > 1 && ((unsigned long long) dbias & 15) == 0) {
            for (int q = threadIdx.x * W; q < c; q += SM_RED_THREADS * W) {
                float sum[W];
#pragma unroll
                for (int u = 0; u < W; u++) sum[u] = column(q + u);
                redv<W>(dbias + q, sum);
            }
        } else
            for (int cc = threadIdx.x; cc < c; cc += SM_RED_THREADS) atomicAdd(&dbias[cc], column(cc));
    }
}
extern "C" __global__ __launch_bounds__(SM_RED_THREADS) void sm_merge_backward(const xs_t* __restrict__ dout, const xs_t* __restrict__ x,
        const xs_t* __restrict__ f, const float* __restrict__ post, float* __restrict__ df, float* __restrict__ dres,
        float* __restrict__ dpost, float* __restrict__ dbias, int tokens, int c, int vec) {
#if SM_XBF16
    if (vec == 8) merge_backward_cols<8>(dout, x, f, post, df, dres, dpost, dbias, tokens, c);
    else
#endif
    if (vec == 4) merge_backward_cols<4>(dout, x, f, post, df, dres, dpost, dbias, tokens, c);
    else merge_backward_cols<1>(dout, x, f, post, df, dres, dpost, dbias, tokens, c);
}
extern "C" __global__ __launch_bounds__(SM_RED_THREADS) void sm_merge_backward_bf16(const xs_t* __restrict__ dout,
        const xs_t* __restrict__ x, const xs_t* __restrict__ f, const float* __restrict__ post, bf16_t* __restrict__ df,
        float* __restrict__ dres, float* __restrict__ dpost, float* __restrict__ dbias, int tokens, int c, int vec) {
#if SM_XBF16
    if (vec == 8) merge_backward_cols<8>(dout, x, f, post, df, dres, dpost, dbias, tokens, c);
    else
#endif
    if (vec == 4) merge_backward_cols<4>(dout, x, f, post, df, dres, dpost, dbias, tokens, c);
    else merge_backward_cols<1>(dout, x, f, post, df, dres, dpost, dbias, tokens, c);
}

// The maps' backward with what it starts from, dL/dH_pre[t, i] = <dh_t, x_t,i>, in one launch (the dots and the maps
// as two kernels measured 0.062 + 0.028 ms per block at preset M, bf16 streams, H100): a block of 128 threads takes
// SM_DM_TOKENS tokens; warp w sums the dots of its 8 tokens two tokens at a time (every lane on one row: wide, coalesced
// reads; V columns per access as for sm_aggregate), then the first SM_DM_TOKENS·LP threads run the maps' backward,
// LP per token, from the dots in shared memory and the forward's u and r; dzs (or null) receives dz's split copy.
#ifndef SM_DM_TOKENS
#define SM_DM_TOKENS 32                                  // 8, 16 or 32 (SM_DM_TOKENS·LP maps threads of the 128)
#endif
#ifndef SM_DM_UNROLL
#define SM_DM_UNROLL 1                                   // column steps of the dots' loop unrolled (loads in flight a warp)
#endif
constexpr int DMU = SM_DM_UNROLL;
static_assert(SM_DM_TOKENS == 8 || SM_DM_TOKENS == 16 || SM_DM_TOKENS == 32, "SM_DM_TOKENS: 8, 16 or 32 tokens a block");
// dz's split copy, written where the streams' backward runs on tensor cores: rows [hi DZ_HALF | lo DZ_HALF] of bf16
// high parts and remainders of r·dz (as split_bf16 rounds them; zeros past M), DZ_HALF = M in whole k16 steps, so its
// A (dz·Φ_catᵀ) and B (xᵀ·dz) fragments come by ldmatrix with no conversions.
constexpr int DZ_HALF = 16 * (((M > 0 ? M : 1) + 15) / 16);
template <int V>
__device__ __forceinline__ void dots_maps_backward(const xs_t* __restrict__ dh, const xs_t* __restrict__ x,
        const float* __restrict__ u, const float* __restrict__ rr, const float* __restrict__ th, const int* __restrict__ perms,
        const float* __restrict__ dpost, const float* __restrict__ dres, float* __restrict__ dzr, bf16_t* __restrict__ dzs,
        float* __restrict__ coef, float* __restrict__ part, int tokens, int c) {
    constexpr int PER_WARP = SM_DM_TOKENS / 4;
    __shared__ float dps[SM_DM_TOKENS][NS];
    const int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    const long long t0 = (long long) blockIdx.x * SM_DM_TOKENS;
    for (int k = 0; k < PER_WARP; k += 2) {            // (one at a time: 0.0834 against 0.0824 ms a call, ncu, H100, preset M)
        const int s = w * PER_WARP + k;
        float acc[2][NS];
#pragma unroll
        for (int e = 0; e < 2; e++)
#pragma unroll
            for (int i = 0; i < NS; i++) acc[e][i] = 0.f;
#pragma unroll DMU
        for (int cc = lane * V; cc < c; cc += 32 * V) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const long long t = t0 + s + e < tokens ? t0 + s + e : tokens - 1;   // (past the last token: dots unused)
                float gv[V], xv[V];
                loadv<V>(dh + t * c + cc, gv);
#pragma unroll
                for (int i = 0; i < NS; i++) {
                    loadv<V>(x + (t * NS + i) * c + cc, xv);
#pragma unroll
                    for (int v = 0; v < V; v++) acc[e][i] += gv[v] * xv[v];
                }
            }
        }
#pragma unroll
        for (int e = 0; e < 2; e++)
#pragma unroll
            for (int i = 0; i < NS; i++) {
#pragma unroll
                for (int o = 16; o > 0; o >>= 1) acc[e][i] += __shfl_xor_sync(0xffffffffu, acc[e][i], o);
                if (lane == 0) dps[s + e][i] = acc[e][i];
            }
    }
    __syncthreads();
    const int tid = threadIdx.x;
    if (tid < SM_DM_TOKENS * LP) {                       // whole warps: SM_DM_TOKENS·LP is a multiple of 32
        if constexpr (LANES) {
            const Lane ln(t0 * LP + tid, tokens);
            maps_backward_lanes(ln, u + ln.t * M, rr[ln.t], dps[ln.t - t0][ln.on ? ln.i : 0], th, dpost, dres, dzr, coef, part, NS * c);
        } else {
            const long long t = t0 + tid;
            if (t < tokens) maps_backward_token(t, u + t * M, DYN ? rr[t] : 0.f, dps[tid], th, perms, dpost, dres, dzr, coef, part, NS * c);
        }
    }
    if (dzs) {                                           // the block's rows of r·dz as they were written, split (the
        __syncthreads();                                 // barrier makes the maps' global writes visible to the block)
        constexpr int HS = DZ_HALF;
        for (int e = tid; e < SM_DM_TOKENS * HS; e += 128) {
            const long long t = t0 + e / HS;
            const int m = e % HS;
            if (t < tokens) split_bf16(m < M ? dzr[t * M + m] : 0.f, dzs[t * 2 * HS + m], dzs[t * 2 * HS + HS + m]);
        }
    }
}
extern "C" __global__ __launch_bounds__(128) void sm_dots_maps_backward(const xs_t* __restrict__ dh, const xs_t* __restrict__ x,
        const float* __restrict__ u, const float* __restrict__ rr, const float* __restrict__ th, const int* __restrict__ perms,
        const float* __restrict__ dpost, const float* __restrict__ dres, float* __restrict__ dzr, bf16_t* __restrict__ dzs,
        float* __restrict__ coef, float* __restrict__ part, int tokens, int c, int vec) {
#if SM_XBF16
    if (vec == 8) dots_maps_backward<8>(dh, x, u, rr, th, perms, dpost, dres, dzr, dzs, coef, part, tokens, c);
    else
#endif
    if (vec == 4) dots_maps_backward<4>(dh, x, u, rr, th, perms, dpost, dres, dzr, dzs, coef, part, tokens, c);
    else dots_maps_backward<1>(dh, x, u, rr, th, perms, dpost, dres, dzr, dzs, coef, part, tokens, c);
}

// The streams' gradient in one pass that overwrites dx (the merge backward no longer writes H_resᵀ dOut for this pass
// to read back): dx[t, i, c] = Σ_j H_res[t, j, i] dOut[t, j, c] + H_pre[t, i] dh[t, c] (+ coef[t] x[t, i, c], the RMSNorm
// path, when the maps are dynamic). PROJ adds the projections' path Σ_m (r·dz)[t, m] Φ_cat[(i, c), m] (M <= SM_FUSE_MAX,
// Φ_cat's row in registers) and sums dΦ_cat = vec(x)ᵀ·(r·dz) from the same reads of x into the partial rows
// part[y, (i, c), :] over block row y's tokens (summed over the rows by sm_sum_rows: no atomics, no second pass over x).
// Block (SM_CB, NS): SM_CB columns c of every stream; grid (ceil(C / SM_CB), rows): block row y walks token tiles
// y·per .. y·per + per - 1 of BT tokens. Each tile (x, dOut, dh and the per-token maps) reaches shared memory by
// cp.async, SM_STAGES tiles deep, so the next tiles are on their way while this one is computed; registers hold only
// Φ_cat's row and the dΦ_cat sums (the register-staged version was latency-bound at 25 % occupancy: 2.8x its byte floor).
// vec != 0: x, dOut and dh are 16-byte aligned and C % 4 == 0 (16-byte copies), else 4-byte copies.
#define SM_CB 64
#define SM_FUSE_MAX 64
#define SM_STAGES 2                                      // tiles in shared memory at once (one computed, one landing;
                                                         // 8-token tiles 3 or 4 deep measured slower)
#define SM_BWD_BLOCKS (NS <= 4 ? 2 : 1)                  // blocks per SM the register budget allows for
namespace sm {
constexpr int MF = M > 0 && M <= SM_FUSE_MAX ? M : 1;   // (1 where the fused kernels are unused)
constexpr int R4 = MF >= 4 ? MF / 4 : 1;                 // 16-byte pieces of a Φ_cat row (read where MF % 4 == 0)
constexpr int MP = (MF + 3) / 4 * 4;
constexpr int MT = (MF + 7) / 8 * 8;                     // M padded to whole n8 tiles (the tensor-core products)
constexpr int KT = MT / 8;
constexpr int BT = NS <= 4 ? 16 : NS <= 8 ? 8 : 4;       // tokens per tile (a stage stays under ~80 KB)

// One stage's shared-memory layout in floats: [BT][MK] dz (PROJ only, first: float4-aligned), [BT][NS][SM_CB] x and
// the same for dOut, [BT][SM_CB] dh (all three as stored: bf16 takes half the floats), [BT][NS·NS] H_res, [BT][NS] H_pre, [BT] coef.
template <bool PROJ>
struct Stage {
    static constexpr int SX = BT * NS * SM_CB * (int) sizeof(xs_t) / 4;   // floats of the x or dOut tile
    static constexpr int SH = BT * SM_CB * (int) sizeof(xs_t) / 4;        // floats of the dh tile
    static constexpr int MK = PROJ ? MP : 0, DZ = 0, X = BT * MK, DO = X + SX, DH = DO + SX,
                         RES = DH + SH, PRE = RES + BT * NS * NS, COEF = PRE + BT * NS,
                         FLOATS = (COEF + BT + 3) / 4 * 4, BYTES = SM_STAGES * FLOATS * 4;
};
}

// One element of x or dOut into shared memory: by cp.async for fp32; bf16 (2 bytes, below cp.async's least) by a plain load
// and store, which the __syncthreads after the stage's wait publishes as well. Only the unaligned path takes this.
__device__ __forceinline__ void cpx(float* dst, const float* src, bool ok) { cp4(dst, src, ok); }
__device__ __forceinline__ void cpx(bf16_t* dst, const bf16_t* src, bool ok) { *dst = ok ? *src : (bf16_t) 0; }

// The tile of tokens t0 .. t0 + nt - 1 into stage st (see Stage), by cp.async; a thread issues every nthreads-th copy.
// vec (bf16 streams: also C % 8 == 0) moves 16 bytes per copy.
template <bool PROJ>
__device__ __forceinline__ void stream_backward_load(float* st, const xs_t* __restrict__ dout, const xs_t* __restrict__ dh,
        const xs_t* __restrict__ x, const float* __restrict__ pre, const float* __restrict__ res,
        const float* __restrict__ coef, const float* __restrict__ dzr, long long t0, int nt, int c, int c0, bool vec) {
    using L = Stage<PROJ>;
    const int tid = threadIdx.y * SM_CB + threadIdx.x, nthreads = SM_CB * NS;
    const long long d = (long long) NS * c;
    xs_t* xsm = reinterpret_cast<xs_t*>(st + L::X);
    xs_t* dsm = reinterpret_cast<xs_t*>(st + L::DO);
    xs_t* hsm = reinterpret_cast<xs_t*>(st + L::DH);
    if (vec) {                                             // rows of SM_CB columns as 16-byte chunks (XE elements)
        constexpr int QX = SM_CB / XE;
        for (int e = tid; e < BT * NS * QX; e += nthreads) {
            const int row = e / QX, k = XE * (e % QX), s = row / NS;
            const bool ok = s < nt && c0 + k < c;
            const long long g = ok ? (t0 + s) * d + (long long) (row % NS) * c + c0 + k : 0;
            cp16(xsm + row * SM_CB + k, x + g, ok);
            cp16(dsm + row * SM_CB + k, dout + g, ok);
        }
        for (int e = tid; e < BT * QX; e += nthreads) {
            const int s = e / QX, k = XE * (e % QX);
            const bool ok = s < nt && c0 + k < c;
            cp16(hsm + s * SM_CB + k, dh + (ok ? (t0 + s) * c + c0 + k : 0), ok);
        }
    } else {
        for (int e = tid; e < BT * NS * SM_CB; e += nthreads) {
            const int row = e / SM_CB, k = e % SM_CB, s = row / NS;
            const bool ok = s < nt && c0 + k < c;
            const long long g = ok ? (t0 + s) * d + (long long) (row % NS) * c + c0 + k : 0;
            cpx(xsm + e, x + g, ok);
            cpx(dsm + e, dout + g, ok);
        }
        for (int e = tid; e < BT * SM_CB; e += nthreads) {
            const int s = e / SM_CB, k = e % SM_CB;
            const bool ok = s < nt && c0 + k < c;
            cpx(hsm + e, dh + (ok ? (t0 + s) * c + c0 + k : 0), ok);
        }
    }
    for (int e = tid; e < nt * NS * NS; e += nthreads) cp4(st + L::RES + e, res + t0 * NS * NS + e, true);
    for (int e = tid; e < nt * NS; e += nthreads) cp4(st + L::PRE + e, pre + t0 * NS + e, true);
    if (DYN)
        for (int e = tid; e < nt; e += nthreads) cp4(st + L::COEF + e, coef + t0 + e, true);
    if constexpr (PROJ && M > 0)
        for (int e = tid; e < nt * MF; e += nthreads) cp4(st + L::DZ + (e / MF) * L::MK + e % MF, dzr + t0 * MF + e, true);
}

template <bool PROJ>
__device__ __forceinline__ void stream_backward(const xs_t* __restrict__ dout, const xs_t* __restrict__ dh,
        const xs_t* __restrict__ x, const float* __restrict__ pre, const float* __restrict__ res,
        const float* __restrict__ coef, const float* __restrict__ dzr, const float* __restrict__ phi,
        xs_t* __restrict__ dx, float* __restrict__ part, int tokens, int c, int per, int vec) {
    using L = Stage<PROJ>;
    constexpr int MK = PROJ ? MP : 4;
    extern __shared__ float4 sm_stages[];
    float* smem = reinterpret_cast<float*>(sm_stages);
    const int i = threadIdx.y, cl = threadIdx.x, tid = i * SM_CB + cl, c0 = blockIdx.x * SM_CB, cc = c0 + cl;
    const bool active = cc < c;
    const long long d = (long long) NS * c, q = (long long) i * c + cc;
    float ph[MK], dp[MK];
#pragma unroll
    for (int j = 0; j < MK; j++) {
        ph[j] = PROJ && active && j < M ? phi[q * M + j] : 0.f;
        dp[j] = 0.f;
    }
    if constexpr (PROJ)                                    // dz's padding columns: never copied, read as zeros
        for (int e = tid; e < SM_STAGES * BT * L::MK; e += SM_CB * NS)
            if (e % L::MK >= M) smem[(e / (BT * L::MK)) * L::FLOATS + L::DZ + e % (BT * L::MK)] = 0.f;
    const int tiles = (tokens + BT - 1) / BT, first = blockIdx.y * per, last = min(tiles, first + per);
    auto fetch = [&](int tile) {
        const long long t0 = (long long) tile * BT;
        stream_backward_load<PROJ>(smem + ((tile - first) % SM_STAGES) * L::FLOATS, dout, dh, x, pre, res, coef, dzr, t0,
                                   min(BT, tokens - (int) t0), c, c0, vec != 0);
    };
#pragma unroll
    for (int k = 0; k < SM_STAGES - 1; k++) {
        if (first + k < last) fetch(first + k);
        cp_commit();
    }
    for (int tile = first; tile < last; tile++) {
        if (tile + SM_STAGES - 1 < last) fetch(tile + SM_STAGES - 1);   // its stage was freed by the last iteration's sync
        cp_commit();
        cp_wait<SM_STAGES - 1>();                          // this tile's copies (this thread's) have landed ...
        __syncthreads();                                   // ... and everyone else's
        const float* st = smem + ((tile - first) % SM_STAGES) * L::FLOATS;
        const long long t0 = (long long) tile * BT;
        const int nt = min(BT, tokens - (int) t0);
        if (active) {
#pragma unroll 4                                           // (spills 56 bytes at mHC's M = 24, but measured 0.65 ms per
                                                           // step faster than unroll 1, which does not spill)
            for (int s = 0; s < nt; s++) {
                const float xv = load(reinterpret_cast<const xs_t*>(st + L::X) + (s * NS + i) * SM_CB + cl);
                float a = st[L::PRE + s * NS + i] * load(reinterpret_cast<const xs_t*>(st + L::DH) + s * SM_CB + cl);
                if (DYN) a += st[L::COEF + s] * xv;
#pragma unroll
                for (int j = 0; j < NS; j++)
                    a += st[L::RES + s * NS * NS + j * NS + i] * load(reinterpret_cast<const xs_t*>(st + L::DO) + (s * NS + j) * SM_CB + cl);
                if constexpr (PROJ) {
                    const float4* dz4 = reinterpret_cast<const float4*>(st + L::DZ + s * L::MK);
#pragma unroll
                    for (int j = 0; j < MK / 4; j++) {
                        const float4 v = dz4[j];
                        a += v.x * ph[4 * j] + v.y * ph[4 * j + 1] + v.z * ph[4 * j + 2] + v.w * ph[4 * j + 3];
                        dp[4 * j] += xv * v.x;
                        dp[4 * j + 1] += xv * v.y;
                        dp[4 * j + 2] += xv * v.z;
                        dp[4 * j + 3] += xv * v.w;
                    }
                }
                store(dx + (t0 + s) * d + q, a);
            }
        }
        __syncthreads();                                   // the stage is used up: the next load may refill it
    }
    if (PROJ && active) {
        float* out = part + ((long long) blockIdx.y * d + q) * M;
#pragma unroll
        for (int j = 0; j < MK; j++)
            if (j < M) out[j] = dp[j];
    }
}
#define SM_STREAM_BACKWARD_ARGS const xs_t* __restrict__ dout, const xs_t* __restrict__ dh, const xs_t* __restrict__ x, \
        const float* __restrict__ pre, const float* __restrict__ res, const float* __restrict__ coef, \
        const float* __restrict__ dzr, const float* __restrict__ phi, xs_t* __restrict__ dx, float* __restrict__ part, \
        int tokens, int c, int per, int vec
extern "C" __global__ __launch_bounds__(SM_CB * NS, SM_BWD_BLOCKS) void sm_stream_backward(SM_STREAM_BACKWARD_ARGS) {
    stream_backward<false>(dout, dh, x, pre, res, coef, dzr, phi, dx, part, tokens, c, per, vec);
}
extern "C" __global__ __launch_bounds__(SM_CB * NS, SM_BWD_BLOCKS) void sm_stream_backward_dphi(SM_STREAM_BACKWARD_ARGS) {
    if constexpr (M > 0 && M <= SM_FUSE_MAX) stream_backward<true>(dout, dh, x, pre, res, coef, dzr, phi, dx, part, tokens, c, per, vec);
}

// sm_stream_backward_dphi on tensor cores, for bf16 streams with 0 < M <= SM_MMA_MAX (mHC, HC, sHC, mHC-lite at n <= 4):
// the same results from the same tiles, but the two products with Φ_cat, dx += (r·dz)·Φ_catᵀ and dΦ_cat += xᵀ·(r·dz),
// are bf16 mma.sync instead of 2M FMAs per element (the FMA version issued ~100 instructions per element and
// ran at ~2.7x its byte floor). r·dz and Φ_cat are split into bf16 high parts and remainders (split_bf16; dz's by
// sm_dots_maps_backward): x·dz in two products with x exact, dz·Φ in three (hi·hi, lo·hi, hi·lo), each within ~2^-16
// of fp32. Block: SM_CB / 8 warps, warp w owns columns c0 + 8 w .. + 7 of every stream (q = (i, c)), a tile is 16
// tokens, and each thread holds the (token, column) entries of the mma accumulator layout: tokens g, g + 8 and the
// column pair 2 t, + 1 of every stream, so the H_res, H_pre and RMSNorm paths are added where the projection path
// lands, from one read of each stream's dOut. Needs x, dOut, dx 16-byte aligned and C % 8 == 0 (StreamMaps checks).
#define SM_MMA_MAX 32
#ifndef SM_MSTAGES
#define SM_MSTAGES 3                                   // (2 and 4 measured no faster on the H100, session 17)
#endif
namespace sm {
constexpr int MW = SM_CB / 8;                            // warps per block: 8 columns of every stream each
constexpr int KQ = (MF + 15) / 16;                       // k16 steps over Φ_cat's columns (dx product)
constexpr int XR = NS * SM_CB + 8;                       // pitch of a token's row of x, dOut (bf16): rows 16 bytes apart
                                                         // mod 128, so 8 rows of an ldmatrix or a fragment hit distinct banks
constexpr int HR = SM_CB + 8;                            // pitch of dh's rows (bf16), likewise for pairs
constexpr int ZB = 2 * DZ_HALF + 8;                      // pitch of dz's split rows [hi | lo] (bf16): an odd number of
                                                         // 16-byte units, so the 8 rows of an ldmatrix hit distinct banks
static_assert(M <= 0 || M > SM_MMA_MAX || 16 * KQ == DZ_HALF, "dz's split rows hold the k16 steps of the dx product");
struct MStage {                                          // one stage in floats: x, dOut [16][XR] bf16, dh [16][HR] bf16, dz [16][ZB]
                                                         // bf16 (split), H_res [16][NS·NS], H_pre [16][NS], coef [16]
    static constexpr int X = 0, DO = X + 8 * XR, DH = DO + 8 * XR, DZ = DH + 8 * HR, RES = DZ + 8 * ZB,
                         PRE = RES + 16 * NS * NS, COEF = PRE + 16 * NS, FLOATS = (COEF + 16 + 3) / 4 * 4,
                         BYTES = SM_MSTAGES * FLOATS * 4;
};
}

// K consecutive floats of shared memory (16-byte aligned where K % 4 == 0: vector loads).
template <int K>
__device__ __forceinline__ void lds_row(const float* p, float (&v)[K]) {
    if constexpr (K % 4 == 0) {
#pragma unroll
        for (int k = 0; k < K; k += 4) {
            const float4 q = *reinterpret_cast<const float4*>(p + k);
            v[k] = q.x; v[k + 1] = q.y; v[k + 2] = q.z; v[k + 3] = q.w;
        }
    } else {
#pragma unroll
        for (int k = 0; k < K; k++) v[k] = p[k];
    }
}

// Tokens t0 .. t0 + nt - 1 into stage st (MStage); rows past nt are zeros, so the products over all 16 rows add nothing.
__device__ __forceinline__ void stream_backward_mma_load(float* st, const xs_t* __restrict__ dout, const xs_t* __restrict__ dh,
        const xs_t* __restrict__ x, const float* __restrict__ pre, const float* __restrict__ res,
        const float* __restrict__ coef, const bf16_t* __restrict__ dzs, long long t0, int nt, int c, int c0) {
    using L = MStage;
    constexpr int THREADS = 32 * MW, QX = SM_CB / XE;
    const int tid = threadIdx.x;
    const long long d = (long long) NS * c;
    xs_t* xsm = reinterpret_cast<xs_t*>(st + L::X);
    xs_t* dsm = reinterpret_cast<xs_t*>(st + L::DO);
    for (int e = tid; e < 16 * NS * QX; e += THREADS) {      // rows (token, stream) of SM_CB columns as 16-byte chunks
        const int row = e / QX, k = XE * (e % QX), s = row / NS, i = row % NS;
        const bool ok = s < nt && c0 + k < c;
        const long long g = ok ? (t0 + s) * d + (long long) i * c + c0 + k : 0;
        cp16(xsm + s * XR + i * SM_CB + k, x + g, ok);
        cp16(dsm + s * XR + i * SM_CB + k, dout + g, ok);
    }
    xs_t* hsm = reinterpret_cast<xs_t*>(st + L::DH);
    for (int e = tid; e < 16 * QX; e += THREADS) {
        const int s = e / QX, k = XE * (e % QX);
        const bool ok = s < nt && c0 + k < c;
        cp16(hsm + s * HR + k, dh + (ok ? (t0 + s) * c + c0 + k : 0), ok);
    }
    constexpr int QZ = DZ_HALF / 4;                          // 16-byte pieces of a split row of dz
    bf16_t* zsm = reinterpret_cast<bf16_t*>(st + L::DZ);
    for (int e = tid; e < 16 * QZ; e += THREADS) {
        const int s = e / QZ;
        cp16(zsm + s * ZB + 8 * (e % QZ), dzs + (s < nt ? t0 * 2 * DZ_HALF + 8 * e : 0), s < nt);
    }
    for (int e = tid; e < 16 * NS * NS; e += THREADS) cp4(st + L::RES + e, res + (e < nt * NS * NS ? t0 * NS * NS + e : 0), e < nt * NS * NS);
    for (int e = tid; e < 16 * NS; e += THREADS) cp4(st + L::PRE + e, pre + (e < nt * NS ? t0 * NS + e : 0), e < nt * NS);
    for (int e = tid; e < 16; e += THREADS) cp4(st + L::COEF + e, coef + (e < nt ? t0 + e : 0), e < nt);
}

extern "C" __global__ __launch_bounds__(32 * MW, SM_BWD_BLOCKS) void sm_stream_backward_mma(SM_STREAM_BACKWARD_ARGS) {
#if SM_XBF16
    if constexpr (M > 0 && M <= SM_MMA_MAX) {
        using L = MStage;
        constexpr int NQ = (MF + 7) / 8;                     // n8 tiles over Φ_cat's columns (dΦ product)
        constexpr int NR = (NS + 1) / 2;                     // m16 tiles of the warp's NS·8 rows q (dΦ product)
        constexpr int SQ = (NS + 3) / 4 * 4;                 // streams in whole quads (the dx stores' exchange)
        extern __shared__ float4 sm_mma_stages[];
        float* smem = reinterpret_cast<float*>(sm_mma_stages);
        const int w = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane >> 2, t4 = lane & 3;
        const int cw = 8 * w, c0 = blockIdx.x * SM_CB;       // the warp's columns c0 + cw .. + 7, of every stream
        const long long d = (long long) NS * c;
        // Φ_cat's rows q = (i, c0 + cw + g) as the B fragments of dz·Φᵀ (k = Φ_cat's column), high parts and remainders
        unsigned phh[NS][KQ][2], phl[NS][KQ][2];
#pragma unroll
        for (int i = 0; i < NS; i++) {
            const int cc = c0 + cw + g;
            const float* row = phi + ((long long) i * c + cc) * M;
#pragma unroll
            for (int k = 0; k < KQ; k++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int m = 16 * k + 8 * h + 2 * t4;
                    const float v0 = cc < c && m < M ? row[m] : 0.f, v1 = cc < c && m + 1 < M ? row[m + 1] : 0.f;
                    split_bf16(v0, v1, phh[i][k][h], phl[i][k][h]);
                }
        }
        float dp[NR][NQ][4];                                 // dΦ_cat rows (streams 2 r, 2 r + 1; column cw + g), cols 8 n + 2 t, + 1
#pragma unroll
        for (int r = 0; r < NR; r++)
#pragma unroll
            for (int n = 0; n < NQ; n++)
#pragma unroll
                for (int e = 0; e < 4; e++) dp[r][n][e] = 0.f;
        const bf16_t* dzs = reinterpret_cast<const bf16_t*>(dzr);   // here dz's split copy (sm_dots_maps_backward)
        const int tiles = (tokens + 15) / 16, first = blockIdx.y * per, last = min(tiles, first + per);
        auto fetch = [&](int tile) {
            const long long t0 = (long long) tile * 16;
            stream_backward_mma_load(smem + ((tile - first) % SM_MSTAGES) * L::FLOATS, dout, dh, x, pre, res, coef, dzs, t0,
                                     min(16, tokens - (int) t0), c, c0);
        };
#pragma unroll
        for (int k = 0; k < SM_MSTAGES - 1; k++) {
            if (first + k < last) fetch(first + k);
            cp_commit();
        }
        for (int tile = first; tile < last; tile++) {
            if (tile + SM_MSTAGES - 1 < last) fetch(tile + SM_MSTAGES - 1);
            cp_commit();
            cp_wait<SM_MSTAGES - 1>();
            __syncthreads();
            const float* st = smem + ((tile - first) % SM_MSTAGES) * L::FLOATS;
            const bf16_t* xs = reinterpret_cast<const bf16_t*>(st + L::X);
            const bf16_t* ds = reinterpret_cast<const bf16_t*>(st + L::DO);
            const bf16_t* dz = reinterpret_cast<const bf16_t*>(st + L::DZ);
            const long long t0 = (long long) tile * 16;
            const int nt = min(16, tokens - (int) t0);
            // dx[s, i, q] for tokens s = g, g + 8, every stream i and columns q = cw + 2 t, + 1: first (r·dz)·Φ_catᵀ on
            // tensor cores
            float acc[NS][4];
#pragma unroll
            for (int i = 0; i < NS; i++)
#pragma unroll
                for (int e = 0; e < 4; e++) acc[i][e] = 0.f;
#pragma unroll
            for (int k = 0; k < KQ; k++) {
                unsigned ah[4], al[4];                       // a0 (g, 2t), a1 (g + 8, 2t), a2 (g, 2t + 8), a3 (g + 8, 2t + 8)
                const bf16_t* za = dz + (lane % 16) * ZB + 16 * k + 8 * (lane / 16);
                ldsm4<false>(ah, za);
                ldsm4<false>(al, za + DZ_HALF);
#pragma unroll
                for (int i = 0; i < NS; i++) {
                    mma_bf16(acc[i], al, phh[i][k]);
                    mma_bf16(acc[i], ah, phl[i][k]);
                    mma_bf16(acc[i], ah, phh[i][k]);
                }
            }
            // ... then H_resᵀ dOut + H_pre dh + coef x from one read of each stream's pair (every stream's dx needs every
            // stream's dOut; warps that owned 32 columns of one stream each read all of dOut), as bf16 pairs, which the
            // quad trades so that lane t holds stream t's 8 columns: one 16-byte store a lane
            // a[k] by selects (an index unknown at compile time would put a in local memory)
            auto pick = [](const unsigned* a, int k) { return k == 0 ? a[0] : k == 1 ? a[1] : k == 2 ? a[2] : a[3]; };
            const int col = cw + 2 * t4;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int s = g + 8 * h;
                const float cf = st[L::COEF + s];
                const unsigned dv = ld32(reinterpret_cast<const bf16_t*>(st + L::DH) + s * HR + col);
                float o0[NS], o1[NS], hp[NS];                // dOut's pair of every stream, H_pre
#pragma unroll
                for (int j = 0; j < NS; j++) {
                    const unsigned ov = ld32(ds + s * XR + j * SM_CB + col);
                    o0[j] = lo_of(ov);
                    o1[j] = hi_of(ov);
                }
                lds_row(st + L::PRE + s * NS, hp);
                float a0[NS], a1[NS];                        // stream i's columns cw + 2 t, + 1
#pragma unroll
                for (int i = 0; i < NS; i++) {
                    const unsigned xv = ld32(xs + s * XR + i * SM_CB + col);
                    a0[i] = acc[i][2 * h] + hp[i] * lo_of(dv) + cf * lo_of(xv);
                    a1[i] = acc[i][2 * h + 1] + hp[i] * hi_of(dv) + cf * hi_of(xv);
                }
#pragma unroll
                for (int j = 0; j < NS; j++) {
                    float hr[NS];                            // H_res's row j: stream j's weight in every dx_i
                    lds_row(st + L::RES + s * NS * NS + j * NS, hr);
#pragma unroll
                    for (int i = 0; i < NS; i++) {
                        a0[i] += hr[i] * o0[j];
                        a1[i] += hr[i] * o1[j];
                    }
                }
                unsigned pr[SQ] = {};
#pragma unroll
                for (int i = 0; i < NS; i++) pr[i] = pack2(a0[i], a1[i]);
#pragma unroll
                for (int q = 0; q < SQ / 4; q++) {           // streams 4 q .. 4 q + 3, lane t4 stores stream 4 q + t4
                    unsigned got[4];                         // from lane t4 ^ r: its pair of stream 4 q + t4
#pragma unroll
                    for (int r = 0; r < 4; r++) {            // lane t4 ^ r wants this lane's pair of stream 4 q + (t4 ^ r)
                        const unsigned send = pick(pr + 4 * q, t4 ^ r);
                        got[r] = r == 0 ? send : __shfl_xor_sync(0xffffffffu, send, r);
                    }
                    Pack<unsigned, 4> out;                   // columns cw + 2 k, + 1: got[k ^ t4]
#pragma unroll
                    for (int k = 0; k < 4; k++) out.v[k] = pick(got, k ^ t4);
                    const int i = 4 * q + t4;
                    if (i < NS && s < nt && c0 + cw < c)
                        *reinterpret_cast<Pack<unsigned, 4>*>(dx + (t0 + s) * d + (long long) i * c + c0 + cw) = out;
                }
            }
            // dΦ_cat[q, m] += Σ_s x[s, q] (r·dz)[s, m]: A = xᵀ by ldmatrix.trans (rows q: stream 2 r's 8 columns, then
            // stream 2 r + 1's, the last tile's twice where NS is odd; k = the 16 tokens), B = dz, both split halves by
            // one ldmatrix.trans
            unsigned xa[NR][4];
#pragma unroll
            for (int r = 0; r < NR; r++) {                   // matrix l / 8: tokens 8 (l / 16) .., stream 2 r + l / 8 % 2
                const int mi = lane / 8, i = min(2 * r + (mi & 1), NS - 1);
                ldsm4<true>(xa[r], xs + (8 * (mi >> 1) + lane % 8) * XR + i * SM_CB + cw);
            }
#pragma unroll
            for (int n = 0; n < NQ; n++) {
                unsigned b[4];                               // high parts b0 (tokens 2t, 2t + 1; column 8 n + g), b1 (tokens
                                                             // + 8), then the remainders'
                ldsm4<true>(b, dz + (lane % 16) * ZB + DZ_HALF * (lane / 16) + 8 * n);
#pragma unroll
                for (int r = 0; r < NR; r++) {
                    mma_bf16(dp[r][n], xa[r], b + 2);
                    mma_bf16(dp[r][n], xa[r], b);
                }
            }
            __syncthreads();                                 // the stage is used up: the next load may refill it
        }
        float* out = part + (long long) blockIdx.y * d * M;
        const int cc = c0 + cw + g;
        if (cc < c)
#pragma unroll
            for (int r = 0; r < NR; r++)
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int i = 2 * r + (e >> 1);
                    if (i >= NS) continue;
#pragma unroll
                    for (int n = 0; n < NQ; n++) {
                        const int m = 8 * n + 2 * t4 + (e & 1);
                        if (m < M) out[((long long) i * c + cc) * M + m] = dp[r][n][e];
                    }
                }
    }
#endif
}

// RMS and projections in one pass over x, for M <= SM_FUSE_MAX (seed 001 §4.3's fused kernel): u = vec(x)·Φ_cat [N, M]
// and r = 1/sqrt(mean(x²) + eps) [N]; needs D a multiple of 4 and x 16-byte aligned (StreamMaps checks).
// A block of 4·PT threads owns PT = SM_PT tokens and walks vec(x) in chunks of PK = 64 columns; each chunk of x and the
// Φ_cat rows next to it reach shared memory by cp.async, SM_PSTAGES chunks deep. The product runs on tensor cores:
// fp32 x in 3xTF32 (three tf32 mma.sync m16n8k8, about fp32's accuracy); bf16 x, exact in bf16, against Φ_cat split
// into bf16 high parts and remainders (two m16n8k16 per k16 step, A by ldmatrix: a third of the 3xTF32 products).
// Warp w owns the 16 tokens 16 (w % PW) .. and half w / PW of every chunk's k steps (PW = PT / 16), accumulating their
// [16, MT] tile of u; the halves meet in shared memory at the end. The sums of squares come from the same A fragments. x rows are
// PK + 16 bytes apart, so a fragment's 32 reads hit 32 banks, and so are Φ_cat's for the bf16 fragments' pairs of rows.
#ifndef SM_PT
#define SM_PT 128                                      // tokens a block (16, 32, 64 or 128): warps 16-token tiles x 2 k-halves
                                                       // (128: half the Φ_cat traffic a token of 64's; sm_project 60.7 against
                                                       // 63.7 us a call at preset M, ncu, H100; 32: 88.9)
#endif
#define SM_PTHREADS (4 * SM_PT)
#define SM_PBLOCKS (SM_PT <= 64 ? 512 / SM_PTHREADS : 1)   // blocks an SM the launch bounds ask for
#ifndef SM_PK
#define SM_PK 64                                       // columns of vec(x) a chunk (a multiple of 32)
#endif
#ifndef SM_PSTAGES
#define SM_PSTAGES 3                                   // (4 and 6 measured no faster on the H100, session 17)
#endif
namespace sm {
static_assert(SM_PT == 16 || SM_PT == 32 || SM_PT == 64 || SM_PT == 128, "SM_PT: 16, 32, 64 or 128 tokens a block");
constexpr int PW = SM_PT / 16;                          // the warps of one k-half, a 16-token tile each
constexpr int KH16 = SM_PK / 32;                        // k16 steps of a chunk's half
static_assert(SM_PK % 32 == 0, "SM_PK: a multiple of 32 columns");
constexpr int XP = SM_PK + XE;                          // pitch of a token's row of x in a chunk (elements)
constexpr int XF = SM_PT * XP * (int) sizeof(xs_t) / 4; // floats of a chunk of x
constexpr int PP = SM_XBF16 ? MT + 4 : MT;              // pitch of Φ_cat's rows in a chunk (floats)
constexpr int PB = 2 * PP;                              // the same in bf16 elements (bf16 streams: rows of the split copy,
                                                        // 16·(MT / 4 + 1) bytes, an odd number of 16-byte units: the 8
                                                        // rows of an ldmatrix hit distinct banks)
#if SM_XBF16
typedef bf16_t pj_t;                                    // Φ_cat as the projections read it: sm_pack's split copy
#else
typedef float pj_t;
#endif
constexpr int PSTAGE = XF + SM_PK * PP;                 // floats of one stage: x [PT][XP], Φ_cat [PK][PP]
constexpr int PBYTES = SM_PSTAGES * PSTAGE * 4;
static_assert(SM_PT * MT + 2 * SM_PT <= SM_PSTAGES * PSTAGE, "the halves' tiles and sums must fit in the stages");
}

// Chunk k0 .. k0 + PK - 1 of the block's tokens t0 .. and of Φ_cat into stage st.
__device__ __forceinline__ void project_load(float* st, const xs_t* __restrict__ x, const pj_t* __restrict__ phi,
                                             long long t0, int tokens, int d, int k0) {
    const int tid = threadIdx.x;
    constexpr int XQ = SM_PK / XE;
    xs_t* xsm = reinterpret_cast<xs_t*>(st);
#pragma unroll
    for (int l = 0; l < SM_PT * XQ / SM_PTHREADS; l++) {
        const int e = tid + SM_PTHREADS * l, tt = e / XQ, q = e % XQ;
        const bool ok = t0 + tt < tokens && k0 + XE * q < d;
        cp16(xsm + tt * XP + XE * q, ok ? x + (t0 + tt) * d + k0 + XE * q : x, ok);
    }
    const int rows = min(SM_PK, d - k0);
    if constexpr (SM_XBF16) {                               // split rows [hi | lo] of 2·MT bf16: MT / 4 16-byte pieces
        constexpr int RQ = MT / 4;
        bf16_t* ps = reinterpret_cast<bf16_t*>(st + XF);
        const bf16_t* pb = reinterpret_cast<const bf16_t*>(phi);
        const bf16_t* src = pb + (long long) k0 * 2 * MT;
        for (int e = tid; e < SM_PK * RQ; e += SM_PTHREADS) {
            const bool ok = e / RQ < rows;
            cp16(ps + (e / RQ) * PB + 8 * (e % RQ), ok ? src + 8 * e : pb, ok);
        }
        return;
    }
    float* ps = st + XF;
    const float* pf = reinterpret_cast<const float*>(phi);
    const float* src = pf + (long long) k0 * MF;
    if constexpr (MF % 4 == 0) {                            // rows of whole 16-byte pieces
        for (int e = tid; e < SM_PK * R4; e += SM_PTHREADS) {
            const bool ok = e / R4 < rows;
            cp16(ps + (e / R4) * PP + 4 * (e % R4), ok ? src + 4 * e : pf, ok);
        }
    } else {
        for (int e = tid; e < SM_PK * MF; e += SM_PTHREADS) {
            const bool ok = e < rows * MF;
            cp4(ps + (e / MF) * PP + e % MF, ok ? src + e : pf, ok);
        }
    }
}

namespace sm {
// acc += this chunk's products for half kh of the k steps (warp tokens m0 ..), ssq += the sums of squares of its x.
// bf16 x: exact against Φ_cat's split copy (bf16 high parts and remainders, rows PB apart), A and B by ldmatrix.
__device__ __forceinline__ void project_chunk(float (&acc)[KT][4], float (&ssq)[2], const bf16_t* xs, const bf16_t* ps, int m0,
                                              int kh, int lane) {
#pragma unroll
    for (int ks = KH16 * kh; ks < KH16 * kh + KH16; ks++) {
        const int k = 16 * ks;
        unsigned a[4];                                      // matrix l / 8: tokens m0 + 8 (l / 8 % 2) .., columns k + 8 (l / 16) ..
        ldsm4<false>(a, xs + (m0 + lane % 16) * XP + k + 8 * (lane / 16));
        ssq[0] += lo_of(a[0]) * lo_of(a[0]) + hi_of(a[0]) * hi_of(a[0]) + lo_of(a[2]) * lo_of(a[2]) + hi_of(a[2]) * hi_of(a[2]);
        ssq[1] += lo_of(a[1]) * lo_of(a[1]) + hi_of(a[1]) * hi_of(a[1]) + lo_of(a[3]) * lo_of(a[3]) + hi_of(a[3]) * hi_of(a[3]);
#pragma unroll
        for (int n = 0; n < KT; n++) {
            unsigned b[4];                                  // high parts b0 (rows k + 2t, + 1; column 8 n + g), b1 (rows
                                                            // + 8), then the remainders': matrix l / 8 rows k + 8 (l / 8 % 2)
            ldsm4<true>(b, ps + (k + lane % 16) * PB + MT * (lane / 16) + 8 * n);
            mma_bf16(acc[n], a, b + 2);
            mma_bf16(acc[n], a, b);
        }
    }
}

// The same for fp32 x, in 3xTF32.
__device__ __forceinline__ void project_chunk(float (&acc)[KT][4], float (&ssq)[2], const float* xs, const float* ps, int m0,
                                              int kh, int lane) {
    const int g = lane >> 2, t4 = lane & 3;
#pragma unroll
    for (int ks = 2 * KH16 * kh; ks < 2 * KH16 * kh + 2 * KH16; ks++) {
        const int k = 8 * ks + t4;
        const float av[4] = {xs[(m0 + g) * XP + k], xs[(m0 + g + 8) * XP + k], xs[(m0 + g) * XP + k + 4], xs[(m0 + g + 8) * XP + k + 4]};
        ssq[0] += av[0] * av[0] + av[2] * av[2];
        ssq[1] += av[1] * av[1] + av[3] * av[3];
        const SplitTf32<4> a(av);
#pragma unroll
        for (int n = 0; n < KT; n++)
            mma_3xtf32(acc[n], a, SplitTf32<2>({ps[k * PP + 8 * n + g], ps[(k + 4) * PP + 8 * n + g]}));
    }
}

// After the block's last chunk: the two halves' tiles and sums meet in smem (at least SM_PT·MT + 2·SM_PT floats, free
// by now), half 0 writes u and r of tokens t0 .., and the block's tokens' maps follow (a launch of sm_maps_forward less
// per block), LP threads per token.
__device__ __forceinline__ void project_finish(float* smem, float (&acc)[KT][4], float (&ssq)[2], long long t0, int tokens, int d,
        float* __restrict__ u, float* __restrict__ rr, const float* __restrict__ th, const int* __restrict__ perms,
        float* __restrict__ pre, float* __restrict__ post, float* __restrict__ res) {
    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane >> 2, t4 = lane & 3;
    const int m0 = 16 * (warp % PW), kh = warp / PW;
    float* red = smem;                                      // [PT][MT]
    float* sq = red + SM_PT * MT;                           // [2][PT] ... half 1's, then the totals
#pragma unroll
    for (int e = 0; e < 2; e++) {                           // a row's sum of squares over the quad's four lanes
        ssq[e] += __shfl_xor_sync(0xffffffffu, ssq[e], 1);
        ssq[e] += __shfl_xor_sync(0xffffffffu, ssq[e], 2);
    }
    if (kh == 1) {
#pragma unroll
        for (int n = 0; n < KT; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) red[(m0 + g + 8 * (e >> 1)) * MT + 8 * n + 2 * t4 + (e & 1)] = acc[n][e];
        if (t4 == 0) { sq[m0 + g] = ssq[0]; sq[m0 + g + 8] = ssq[1]; }
    }
    __syncthreads();
    if (kh == 0) {                                          // the totals go to u and r, and stay in red and sq for the maps
#pragma unroll
        for (int e = 0; e < 2; e++) {
            const int row = m0 + g + 8 * e;
            const long long t = t0 + row;
            if (t0 + row < tokens) {
#pragma unroll
                for (int n = 0; n < KT; n++)
#pragma unroll
                    for (int j = 0; j < 2; j++) {
                        const int col = 8 * n + 2 * t4 + j;
                        const float v = acc[n][2 * e + j] + red[row * MT + col];
                        red[row * MT + col] = v;
                        if (col < M) u[t * M + col] = v;
                    }
                if (t4 == 0) rr[t] = sq[SM_PT + row] = 1.f / sqrtf((ssq[e] + sq[row]) / (float) d + SM_EPS);
            }
        }
    }
    __syncthreads();
    if (tid < SM_PT * LP)
        maps_forward(t0 * LP + tid, tokens, [&](long long t) { return red + (t - t0) * MT; },
                     [&](long long t) { return sq[SM_PT + (t - t0)]; }, th, perms, pre, post, res);
}
}  // namespace sm

extern "C" __global__ __launch_bounds__(SM_PTHREADS, SM_PBLOCKS) void sm_project(const xs_t* __restrict__ x, const pj_t* __restrict__ phi,
        float* __restrict__ u, float* __restrict__ rr, const float* __restrict__ th, const int* __restrict__ perms,
        float* __restrict__ pre, float* __restrict__ post, float* __restrict__ res, int tokens, int d) {
    if constexpr (M > 0 && M <= SM_FUSE_MAX) {
        extern __shared__ float4 sm_project_stages[];
        float* smem = reinterpret_cast<float*>(sm_project_stages);
        const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
        const int m0 = 16 * (warp % PW), kh = warp / PW;       // the warp's tokens and half of the k8 steps
        const long long t0 = (long long) blockIdx.x * SM_PT;
        if constexpr (!SM_XBF16 && MF != PP)                // the padding columns of Φ_cat's tiles stay zero (the split
                                                            // copy brings its own zeros)
            for (int e = tid; e < SM_PSTAGES * SM_PK * PP; e += SM_PTHREADS)
                if (e % PP >= MF) smem[(e / (SM_PK * PP)) * PSTAGE + XF + e % (SM_PK * PP)] = 0.f;
        float acc[KT][4], ssq[2] = {0.f, 0.f};              // rows m0 + g and m0 + g + 8
#pragma unroll
        for (int n = 0; n < KT; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[n][e] = 0.f;
        const int chunks = (d + SM_PK - 1) / SM_PK;
#pragma unroll
        for (int k = 0; k < SM_PSTAGES - 1; k++) {
            if (k < chunks) project_load(smem + k * PSTAGE, x, phi, t0, tokens, d, k * SM_PK);
            cp_commit();
        }
        for (int ch = 0; ch < chunks; ch++) {
            if (ch + SM_PSTAGES - 1 < chunks)
                project_load(smem + ((ch + SM_PSTAGES - 1) % SM_PSTAGES) * PSTAGE, x, phi, t0, tokens, d, (ch + SM_PSTAGES - 1) * SM_PK);
            cp_commit();
            cp_wait<SM_PSTAGES - 1>();
            __syncthreads();
            project_chunk(acc, ssq, reinterpret_cast<const xs_t*>(smem + (ch % SM_PSTAGES) * PSTAGE),
                          reinterpret_cast<const pj_t*>(smem + (ch % SM_PSTAGES) * PSTAGE + XF), m0, kh, lane);
            __syncthreads();                                // the stage is used up: a later load may refill it
        }
        project_finish(smem, acc, ssq, t0, tokens, d, u, rr, th, perms, pre, post, res);
    }
}

// merge then projections, for bf16 streams: out = H_res·x + H_postᵀ f (sm_merge's sums and roundings, with the maps
// of the block that merges) and, from out as stored, the next block's r, u = vec(out)·Φ_cat and maps (sm_project's,
// with that block's Φ_cat, theta and buffers): the next block's projections read nothing back, which saves a pass
// over the streams (sm_project's 0.066 ms per block at preset M, H100). A block of 4·SM_PT threads owns SM_PT tokens
// and walks the columns c in blocks of SM_PK: each thread merges 2 (token, 8 columns) pieces of every stream from
// registers (the next column block's loads are in flight during the products), writes them to out and to shared
// memory as the products' A operand (stream i's SM_PK columns are a chunk of vec(out), whose Φ_cat rows i·C + c ..
// arrive by cp.async a column block ahead). Needs C % 8 == 0 and x, f, out 16-byte aligned (StreamMaps checks).
namespace sm {
constexpr int MWIDTH = NS * NS + NS;                       // a token's H_res then H_post, as the merge reads them
constexpr int MPHI = NS * SM_PK * PP;                      // floats of one column block's Φ_cat rows, every stream
constexpr int MXS = NS * SM_PT * XP * (int) sizeof(xs_t) / 4;   // floats of the merged chunks [NS][PT][XP]
constexpr int MBYTES_ALL = (2 * MPHI + MXS + SM_PT * MWIDTH) * 4;
constexpr int MITEMS = SM_PT * (SM_PK / 8) / SM_PTHREADS;          // (token, 8 columns) pieces per thread and column block
constexpr bool MFITS = SM_PT * MT + 2 * SM_PT <= 2 * MPHI;   // the halves' tiles and sums fit in the Φ_cat buffers
constexpr int MBYTES = SM_XBF16 && M > 0 && M <= SM_FUSE_MAX && MFITS && MBYTES_ALL <= 227 * 1024 ? MBYTES_ALL : 0;

// Column block q's rows i·C + q·PK + r of Φ_cat's split copy (r < PK, zeros past C) of every stream i into rows
// i·PK + r of ps (PB apart).
__device__ __forceinline__ void merge_project_phi(bf16_t* ps, const bf16_t* __restrict__ phi, int q, int c) {
    constexpr int RQ = MT / 4;                              // 16-byte pieces of a split row
    for (int e = threadIdx.x; e < NS * SM_PK * RQ; e += SM_PTHREADS) {
        const int row = e / RQ, cc = q * SM_PK + row % SM_PK;
        const bool ok = cc < c;
        cp16(ps + row * PB + 8 * (e % RQ), ok ? phi + ((long long) (row / SM_PK) * c + cc) * 2 * MT + 8 * (e % RQ) : phi, ok);
    }
}

typedef Pack<xs_t, 8> Piece;                               // 8 columns of one row: 16 bytes of bf16

// This thread's pieces of column block q: x of every stream and f (zeros past the tokens or C).
__device__ __forceinline__ void merge_project_load(Piece (&xr)[MITEMS][NS], Piece (&fr)[MITEMS], const xs_t* __restrict__ x,
        const xs_t* __restrict__ f, long long t0, int tokens, int c, int q) {
#pragma unroll
    for (int it = 0; it < MITEMS; it++) {
        const int e = threadIdx.x + SM_PTHREADS * it, tt = e / (SM_PK / 8), col = q * SM_PK + 8 * (e % (SM_PK / 8));
        const long long t = t0 + tt;
        const bool ok = t < tokens && col < c;
#pragma unroll
        for (int j = 0; j < NS; j++) xr[it][j] = ok ? *reinterpret_cast<const Piece*>(x + (t * NS + j) * c + col) : Piece{};
        fr[it] = ok ? *reinterpret_cast<const Piece*>(f + t * c + col) : Piece{};
    }
}
}  // namespace sm

extern "C" __global__ __launch_bounds__(SM_PTHREADS, SM_PBLOCKS) void sm_merge_project(const xs_t* __restrict__ x, const xs_t* __restrict__ f,
        const float* __restrict__ mpost, const float* __restrict__ mres, xs_t* __restrict__ out, const pj_t* __restrict__ phi,
        float* __restrict__ u, float* __restrict__ rr, const float* __restrict__ th, const int* __restrict__ perms,
        float* __restrict__ pre, float* __restrict__ post, float* __restrict__ res, int tokens, int c) {
#if SM_XBF16
    if constexpr (MBYTES > 0) {
        extern __shared__ float4 sm_merge_project_smem[];
        float* smem = reinterpret_cast<float*>(sm_merge_project_smem);
        bf16_t* phis = reinterpret_cast<bf16_t*>(smem);    // [2][NS·PK][PB]: column blocks q and q + 1
        xs_t* xs = reinterpret_cast<xs_t*>(smem + 2 * MPHI);  // [NS][PT][XP]
        float* maps = smem + 2 * MPHI + MXS;                // [PT][MWIDTH]
        const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32;
        const int m0 = 16 * (warp % PW), kh = warp / PW, d = NS * c;
        const long long t0 = (long long) blockIdx.x * SM_PT;
        for (int e = tid; e < SM_PT * MWIDTH; e += SM_PTHREADS) {
            const int k = e % MWIDTH;
            const long long t = t0 + e / MWIDTH;
            maps[e] = t >= tokens ? 0.f : k < NS * NS ? mres[t * NS * NS + k] : mpost[t * NS + k - NS * NS];
        }
        float acc[KT][4], ssq[2] = {0.f, 0.f};
#pragma unroll
        for (int n = 0; n < KT; n++)
#pragma unroll
            for (int e = 0; e < 4; e++) acc[n][e] = 0.f;
        const int blocks = (c + SM_PK - 1) / SM_PK;
        merge_project_phi(phis, phi, 0, c);
        cp_commit();
        Piece xr[MITEMS][NS], fr[MITEMS];
        merge_project_load(xr, fr, x, f, t0, tokens, c, 0);
        __syncthreads();                                    // the maps
        for (int q = 0; q < blocks; q++) {
            if (q + 1 < blocks) merge_project_phi(phis + ((q + 1) & 1) * 2 * MPHI, phi, q + 1, c);
            cp_commit();
#pragma unroll
            for (int it = 0; it < MITEMS; it++) {
                const int e = tid + SM_PTHREADS * it, tt = e / (SM_PK / 8), cq = 8 * (e % (SM_PK / 8)), col = q * SM_PK + cq;
                const long long t = t0 + tt;
                const bool ok = t < tokens && col < c;
                const float* mt = maps + tt * MWIDTH;
                float xv[NS][8], fv[8];
#pragma unroll
                for (int v = 0; v < 8; v++) {
                    fv[v] = load(&fr[it].v[v]);
#pragma unroll
                    for (int j = 0; j < NS; j++) xv[j][v] = load(&xr[it][j].v[v]);
                }
#pragma unroll
                for (int k = 0; k < NS; k++) {              // as merge_cols: H_post f first, then the H_res terms in order
                    const float p = mt[NS * NS + k];
                    float o[8];
#pragma unroll
                    for (int v = 0; v < 8; v++) o[v] = p * fv[v];
#pragma unroll
                    for (int j = 0; j < NS; j++) {
                        const float hk = mt[k * NS + j];
#pragma unroll
                        for (int v = 0; v < 8; v++) o[v] += hk * xv[j][v];
                    }
                    Piece pk;
#pragma unroll
                    for (int v = 0; v < 8; v++) store(&pk.v[v], ok ? o[v] : 0.f);
                    if (ok) *reinterpret_cast<Piece*>(out + (t * NS + k) * c + col) = pk;
                    *reinterpret_cast<Piece*>(xs + (k * SM_PT + tt) * XP + cq) = pk;
                }
            }
            if (q + 1 < blocks) merge_project_load(xr, fr, x, f, t0, tokens, c, q + 1);   // in flight during the products
            cp_wait<1>();
            __syncthreads();
            const bf16_t* ps = phis + (q & 1) * 2 * MPHI;
#pragma unroll
            for (int i = 0; i < NS; i++) project_chunk(acc, ssq, xs + i * SM_PT * XP, ps + i * SM_PK * PB, m0, kh, lane);
            __syncthreads();                                // xs and this Φ_cat buffer are used up
        }
        project_finish(smem, acc, ssq, t0, tokens, d, u, rr, th, perms, pre, post, res);
    }
#endif
}

// What the host needs to launch this build's kernels: the dynamic shared memory of the pipelined kernels (out[0] for
// sm_stream_backward, out[1] for sm_stream_backward_dphi, out[2] the latter's tokens per tile, out[3] for sm_project,
// out[6] for sm_stream_backward_mma, whose tiles are 16 tokens, out[7] for sm_merge_project, 0 where this build has
// none), out[4] the blocks per SM the streams' backward is built for (its grid is one wave of them), out[5] the threads
// per token of sm_maps_forward, out[8] the tokens a block of sm_project and sm_merge_project (4 threads each), out[9]
// those of sm_dots_maps_backward.
extern "C" __global__ void sm_launch_shape(int* out) {
    out[0] = Stage<false>::BYTES;
    out[1] = Stage<true>::BYTES;
    out[2] = BT;
    out[3] = PBYTES;
    out[4] = SM_BWD_BLOCKS;
    out[5] = LP;
    out[6] = MStage::BYTES;
    out[7] = MBYTES;
    out[8] = SM_PT;
    out[9] = SM_DM_TOKENS;
}
