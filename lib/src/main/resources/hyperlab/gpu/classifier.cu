// Fused softmax cross-entropy over the vocabulary, one block per token row: writes the row's loss
// -log softmax(logits)[target] and overwrites the logits with their gradient (softmax - onehot) * scale,
// so the [N, V] probabilities never exist as a separate buffer. Logits are fp32, or bf16 for the bf16 engine (fp32
// maths either way; needs bf16.cuh). The [N, V] logits are the largest tensor of a step, so the kernels are built
// around how often they touch them. bf16 rows of up to 65536 logits (GPT-2's 50304) stay in registers between the
// reduction and the gradient: one read and one write, 1.11 against 1.63 ms at preset M on the H100 for the two-pass
// kernel it replaced (lib/bench/crossentropy_variants.cu, data/bench/crossentropy-variants-h100.json).
// Other rows take two passes, an online max-and-sum and then the gradient, each thread moving v logits per access
// (16 bytes where Kernels found the rows aligned and V a multiple of v, else 1). Keeping a row in shared memory
// between the passes instead (two 100 KB blocks an SM) measured slower: 1.72 against 1.62 ms (kernels-fb744c7-h100.json).
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

// bf16 rows of up to blockDim.x · 8 · CE_CHUNKS logits (n a multiple of 8, rows 16-byte aligned): each thread keeps
// up to CE_CHUNKS 16-byte chunks of its row in registers, chunk i at column (i · blockDim.x + thread) · 8, so the
// gradient is written from what the reduction read. The thread holding the target writes the loss, before its
// chunk is overwritten. One 1024-thread block an SM holds a 100 KB row; on the H100 that beat two-pass kernels of
// 256 to 1024 threads, with and without L2 eviction hints, and clusters that split a row over 2 to 8 blocks.
#define CE_CHUNKS 8

__device__ __forceinline__ void unpack_pairs(const Pack<unsigned, 4>& r, float (&a)[8]) {
#pragma unroll
    for (int k = 0; k < 4; k++) {
        a[2 * k] = __int_as_float((int)(r.v[k] << 16));
        a[2 * k + 1] = __int_as_float((int)(r.v[k] & 0xffff0000u));
    }
}

extern "C" __global__ __launch_bounds__(1024, 1) void crossentropy_forward_backward_bf16_regs(bf16_t* logits,
        float* losses, const int* targets, int n, float scale) {
    __shared__ float sh[64];
    bf16_t* row = logits + (long)blockIdx.x * n;
    int target = targets[blockIdx.x];
    Pack<unsigned, 4> r[CE_CHUNKS];   // bf16 pairs: as 8 shorts the chunks spill
#pragma unroll
    for (int i = 0; i < CE_CHUNKS; i++) {
        int j = (i * blockDim.x + threadIdx.x) * 8;
        if (j < n) r[i] = *reinterpret_cast<const Pack<unsigned, 4>*>(row + j);
    }
    float m = NEG_INF, s = 0.f;
#pragma unroll
    for (int i = 0; i < CE_CHUNKS; i++) {
        int j = (i * blockDim.x + threadIdx.x) * 8;
        if (j < n) {
            float a[8];
            unpack_pairs(r[i], a);
            lse_add<8>(m, s, a);
        }
    }
    float lse2 = block_log2sumexp(m, s, sh);
#pragma unroll
    for (int i = 0; i < CE_CHUNKS; i++) {
        int j = (i * blockDim.x + threadIdx.x) * 8;
        if (j < n) {
            float a[8];
            unpack_pairs(r[i], a);
            if (target >= j && target < j + 8) losses[blockIdx.x] = lse2 * LN2 - a[target - j];
            softmax_grad<8>(a, j, target, lse2, scale);
            storev<8>(row + j, a);
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
