// Fused softmax cross-entropy over the vocabulary: writes each row's loss -log softmax(logits)[target] and overwrites
// the logits with their gradient (softmax - onehot) * scale, so the [N, V] probabilities never exist as a separate
// buffer. Logits are fp32, or bf16 for the bf16 engine (fp32 maths either way; needs bf16.cuh and async.cuh). The
// [N, V] logits are the largest tensor of a step, so the kernels are built around how often they touch them: bf16 rows
// that fit shared memory twice are read once (the staged kernel below); other rows take two passes, one block a row,
// an online max-and-sum and then the gradient, each thread moving v logits per access (16 bytes where Kernels found
// the rows aligned and V a multiple of v, else 1). Variants timed on the H100 at preset M: lib/bench/crossentropy_variants.cu,
// data/bench/crossentropy-variants-h100.json (two passes 1.63 ms, the row in registers 1.11); keeping a row in shared
// memory between two passes of non-persistent blocks measured 1.72 against 1.62 ms (kernels-fb744c7-h100.json).
// The sums run in base 2, exp2(x·log2 e - m): one ex2 instruction a logit, and one rescale per v logits.
#define NEG_INF __int_as_float(0xff800000)   // NVRTC has no <cmath>, so no INFINITY
#define LOG2E 1.4426950408889634f
#define LN2 0.6931471805599453f

// (m, s) with s = Σ 2^(x·log2 e - m) over what was seen; merging rescales the sum with the smaller max.
__device__ __forceinline__ void lse_merge(float& m, float& s, float m2, float s2) {
    float mx = fmaxf(m, m2);
    s = (m == NEG_INF ? 0.f : s * exp2f(m - mx)) + (m2 == NEG_INF ? 0.f : s2 * exp2f(m2 - mx));
    m = mx;
}

// folds V logits into (m, s): the max of the V first, so one rescale per V logits instead of a branch per logit
template <int V>
__device__ __forceinline__ void lse_add(float& m, float& s, const float (&a)[V]) {
    float c = a[0];
#pragma unroll
    for (int k = 1; k < V; k++) c = fmaxf(c, a[k]);
    float mx = fmaxf(m, c * LOG2E), t = 0.f;
#pragma unroll
    for (int k = 0; k < V; k++) t += exp2f(fmaf(a[k], LOG2E, -mx));
    s = (m == NEG_INF ? 0.f : s * exp2f(m - mx)) + t;
    m = mx;
}

// log2 Σ_j 2^(row[j]·log2 e) for the block, from each thread's (m, s), on every thread.
__device__ float block_log2sumexp(float m, float s, float* sh) {
    for (int o = 16; o > 0; o >>= 1) lse_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    if (lane == 0) { sh[warp] = m; sh[32 + warp] = s; }
    __syncthreads();
    m = lane < warps ? sh[lane] : NEG_INF;
    s = lane < warps ? sh[32 + lane] : 0.f;
    for (int o = 16; o > 0; o >>= 1) lse_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
    __syncthreads();
    return m + log2f(s);
}

// The same over one block's row in one pass over memory.
template <typename T, int V>
__device__ float row_log2sumexp(const T* row, int n, float* sh) {
    float m = NEG_INF, s = 0.f;
    for (int j = threadIdx.x * V; j < n; j += blockDim.x * V) {
        float a[V];
        loadv<V>(row + j, a);
        lse_add<V>(m, s, a);
    }
    return block_log2sumexp(m, s, sh);
}

// d(scale · loss)/d logit for V logits from column j on, lse2 the row's log2-sum-exp
template <int V>
__device__ __forceinline__ void softmax_grad(float (&a)[V], int j, int target, float lse2, float scale) {
#pragma unroll
    for (int k = 0; k < V; k++) a[k] = (exp2f(fmaf(a[k], LOG2E, -lse2)) - (j + k == target ? 1.f : 0.f)) * scale;
}

template <typename T, int V>
__device__ void crossentropy_rows(T* logits, float* losses, const int* targets, int n, float scale) {
    __shared__ float sh[64];
    T* row = logits + (long)blockIdx.x * n;
    int target = targets[blockIdx.x];
    float lse2 = row_log2sumexp<T, V>(row, n, sh);
    if (threadIdx.x == 0) losses[blockIdx.x] = lse2 * LN2 - load(&row[target]);
    __syncthreads();
    for (int j = threadIdx.x * V; j < n; j += blockDim.x * V) {
        float a[V];
        loadv<V>(row + j, a);
        softmax_grad<V>(a, j, target, lse2, scale);
        storev<V>(row + j, a);
    }
}

extern "C" __global__ void crossentropy_forward_backward(float* logits, float* losses, const int* targets,
                                                         int n, float scale, int v) {
    if (v == 4) crossentropy_rows<float, 4>(logits, losses, targets, n, scale);
    else crossentropy_rows<float, 1>(logits, losses, targets, n, scale);
}

extern "C" __global__ void crossentropy_forward_backward_bf16(bf16_t* logits, float* losses, const int* targets,
                                                              int n, float scale, int v) {
    if (v == 8) crossentropy_rows<bf16_t, 8>(logits, losses, targets, n, scale);
    else crossentropy_rows<bf16_t, 1>(logits, losses, targets, n, scale);
}

// bf16 rows whose two copies fit a block's shared memory (up to 58000 logits on the H100; GPT-2's 50304): one read
// and one write of the logits. Persistent blocks of 1024 threads, one an SM, walk the rows gridDim.x apart; while a
// block reduces a row and writes its gradient from shared memory, cp.async brings the block's next row into the
// other half, so the loads never wait for the reductions and exps. Each thread copies, and later reads, its own
// 16-byte chunks (column (c · blockDim.x + thread) · 8), so the staging needs no barrier of its own. The thread
// holding the target writes the loss. The same rows held in registers instead (no prefetch, one block an SM at a
// time) took 1.113 ms at preset M on the H100 in isolation, 1.47 under ncu in the engine.
__device__ __forceinline__ void unpack_pairs(const Pack<unsigned, 4>& r, float (&a)[8]) {
#pragma unroll
    for (int k = 0; k < 4; k++) {
        a[2 * k] = __int_as_float((int)(r.v[k] << 16));
        a[2 * k + 1] = __int_as_float((int)(r.v[k] & 0xffff0000u));
    }
}

__device__ __forceinline__ void stage_row(Pack<unsigned, 4>* dst, const bf16_t* row, int chunks) {
    for (int c = threadIdx.x; c < chunks; c += blockDim.x) cp16(dst + c, row + c * 8, true);
    cp_commit();
}

extern "C" __global__ __launch_bounds__(1024, 1) void crossentropy_forward_backward_bf16_staged(bf16_t* logits,
        float* losses, const int* targets, int rows, int n, float scale) {
    extern __shared__ float4 stage_raw[];   // [2][n / 8] chunks
    Pack<unsigned, 4>* stage = reinterpret_cast<Pack<unsigned, 4>*>(stage_raw);
    __shared__ float sh[64];
    const int chunks = n / 8;
    int buf = 0;
    if (blockIdx.x < rows) stage_row(stage, logits + (long)blockIdx.x * n, chunks);
    for (int row = blockIdx.x; row < rows; row += gridDim.x, buf ^= 1) {
        const int next = row + gridDim.x;
        if (next < rows) stage_row(stage + (buf ^ 1) * chunks, logits + (long)next * n, chunks);
        else cp_commit();   // an empty group, so the wait below still means "all but the newest"
        cp_wait<1>();
        const Pack<unsigned, 4>* cur = stage + buf * chunks;
        float m = NEG_INF, s = 0.f;
        for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
            float a[8];
            unpack_pairs(cur[c], a);
            lse_add<8>(m, s, a);
        }
        const float lse2 = block_log2sumexp(m, s, sh);
        const int target = targets[row];
        bf16_t* out = logits + (long)row * n;
        for (int c = threadIdx.x; c < chunks; c += blockDim.x) {
            float a[8];
            unpack_pairs(cur[c], a);
            const int j = c * 8;
#pragma unroll
            for (int k = 0; k < 8; k++)
                if (j + k == target) losses[row] = lse2 * LN2 - a[k];   // (a[target - j] would put a in local memory)
            softmax_grad<8>(a, j, target, lse2, scale);
            storev<8>(out + j, a);
        }
    }
}

// Only the losses (evaluation): same reduction, logits untouched.
template <typename T, int V>
__device__ void crossentropy_losses(const T* logits, float* losses, const int* targets, int n) {
    __shared__ float sh[64];
    const T* row = logits + (long)blockIdx.x * n;
    float lse2 = row_log2sumexp<T, V>(row, n, sh);
    if (threadIdx.x == 0) losses[blockIdx.x] = lse2 * LN2 - load(&row[targets[blockIdx.x]]);
}

extern "C" __global__ void crossentropy_forward(const float* logits, float* losses, const int* targets, int n, int v) {
    if (v == 4) crossentropy_losses<float, 4>(logits, losses, targets, n);
    else crossentropy_losses<float, 1>(logits, losses, targets, n);
}

extern "C" __global__ void crossentropy_forward_bf16(const bf16_t* logits, float* losses, const int* targets, int n, int v) {
    if (v == 8) crossentropy_losses<bf16_t, 8>(logits, losses, targets, n);
    else crossentropy_losses<bf16_t, 1>(logits, losses, targets, n);
}
