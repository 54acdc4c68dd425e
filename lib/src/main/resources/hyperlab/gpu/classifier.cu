// Fused softmax cross-entropy over the vocabulary, one block per token row: writes the row's loss
// -log softmax(logits)[target] and overwrites the logits with their gradient (softmax - onehot) * scale,
// so the [N, V] probabilities never exist as a separate buffer. Logits are fp32, or bf16 for the bf16 engine (fp32
// maths either way; needs bf16.cuh). Two passes over a row: an online max-and-sum (the sum is rescaled whenever
// the running max grows), then the gradient; each thread moves v logits per access (16 bytes where Kernels found
// the rows aligned and V a multiple of v, else 1): the [N, V] logits are the largest tensor of a step. With cached != 0
// the first pass also keeps the row in dynamic shared memory (n elements, Kernels sizes it so two blocks share an SM)
// and the second reads it from there: read back from global memory, the rows in flight (four 512-thread blocks an SM)
// outgrow the L2 and the second pass goes to DRAM again (1.68 ms a step at preset M on the H100, kernels-3b68604).

#define NEG_INF __int_as_float(0xff800000)   // NVRTC has no <cmath>, so no INFINITY

// (m, s) with s = Σ exp(x - m) over what was seen; merging rescales the sum with the smaller max.
__device__ __forceinline__ void lse_merge(float& m, float& s, float m2, float s2) {
    float mx = fmaxf(m, m2);
    s = (m == NEG_INF ? 0.f : s * expf(m - mx)) + (m2 == NEG_INF ? 0.f : s2 * expf(m2 - mx));
    m = mx;
}

// log Σ_j exp(row[j]) for one block's row in one pass (the max kept running so exp never overflows); cache (or null)
// receives the row as read.
template <typename T, int V>
__device__ float row_logsumexp(const T* row, int n, float* sh, T* cache) {
    float m = NEG_INF, s = 0.f;
    for (int j = threadIdx.x * V; j < n; j += blockDim.x * V) {
        const Pack<T, V> p = *reinterpret_cast<const Pack<T, V>*>(row + j);
        if (cache) *reinterpret_cast<Pack<T, V>*>(cache + j) = p;
#pragma unroll
        for (int k = 0; k < V; k++) {
            const float a = load(&p.v[k]);
            if (a > m) { s = s * expf(m - a) + 1.f; m = a; }
            else s += expf(a - m);
        }
    }
    for (int o = 16; o > 0; o >>= 1) lse_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    if (lane == 0) { sh[warp] = m; sh[32 + warp] = s; }
    __syncthreads();
    m = lane < warps ? sh[lane] : NEG_INF;
    s = lane < warps ? sh[32 + lane] : 0.f;
    for (int o = 16; o > 0; o >>= 1) lse_merge(m, s, __shfl_xor_sync(0xffffffffu, m, o), __shfl_xor_sync(0xffffffffu, s, o));
    __syncthreads();
    return m + logf(s);
}

template <typename T, int V>
__device__ void crossentropy_rows(T* logits, float* losses, const int* targets, int n, float scale, T* cache) {
    __shared__ float sh[64];
    T* row = logits + (long)blockIdx.x * n;
    int target = targets[blockIdx.x];
    float lse = row_logsumexp<T, V>(row, n, sh, cache);
    if (threadIdx.x == 0) losses[blockIdx.x] = lse - load(&row[target]);
    __syncthreads();
    const T* src = cache ? cache : row;                  // (a thread reads back only what it cached itself)
    for (int j = threadIdx.x * V; j < n; j += blockDim.x * V) {
        float a[V];
        loadv<V>(src + j, a);
#pragma unroll
        for (int k = 0; k < V; k++) a[k] = (expf(a[k] - lse) - (j + k == target ? 1.f : 0.f)) * scale;
        storev<V>(row + j, a);
    }
}

extern "C" __global__ void crossentropy_forward_backward(float* logits, float* losses, const int* targets,
                                                         int n, float scale, int v, int cached) {
    extern __shared__ float4 ce_row_f32[];
    float* cache = cached ? reinterpret_cast<float*>(ce_row_f32) : nullptr;
    if (v == 4) crossentropy_rows<float, 4>(logits, losses, targets, n, scale, cache);
    else crossentropy_rows<float, 1>(logits, losses, targets, n, scale, cache);
}

extern "C" __global__ void crossentropy_forward_backward_bf16(bf16_t* logits, float* losses, const int* targets,
                                                              int n, float scale, int v, int cached) {
    extern __shared__ float4 ce_row_bf16[];
    bf16_t* cache = cached ? reinterpret_cast<bf16_t*>(ce_row_bf16) : nullptr;
    if (v == 8) crossentropy_rows<bf16_t, 8>(logits, losses, targets, n, scale, cache);
    else crossentropy_rows<bf16_t, 1>(logits, losses, targets, n, scale, cache);
}

// Only the losses (evaluation): same reduction, logits untouched.
template <typename T, int V>
__device__ void crossentropy_losses(const T* logits, float* losses, const int* targets, int n) {
    __shared__ float sh[64];
    const T* row = logits + (long)blockIdx.x * n;
    float lse = row_logsumexp<T, V>(row, n, sh, (T*) nullptr);
    if (threadIdx.x == 0) losses[blockIdx.x] = lse - load(&row[targets[blockIdx.x]]);
}

extern "C" __global__ void crossentropy_forward(const float* logits, float* losses, const int* targets, int n, int v) {
    if (v == 4) crossentropy_losses<float, 4>(logits, losses, targets, n);
    else crossentropy_losses<float, 1>(logits, losses, targets, n);
}

extern "C" __global__ void crossentropy_forward_bf16(const bf16_t* logits, float* losses, const int* targets, int n, int v) {
    if (v == 8) crossentropy_losses<bf16_t, 8>(logits, losses, targets, n);
    else crossentropy_losses<bf16_t, 1>(logits, losses, targets, n);
}
