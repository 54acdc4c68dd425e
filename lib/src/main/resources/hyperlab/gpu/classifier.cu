// Fused softmax cross-entropy over the vocabulary, one block per token row: writes the row's loss
// -log softmax(logits)[target] and overwrites the logits with their gradient (softmax - onehot) * scale,
// so the [N, V] probabilities never exist as a separate buffer. Logits are fp32, or bf16 for the bf16 engine (fp32
// maths either way; needs bf16.cuh). Two passes over a row: an online max-and-sum (the sum is rescaled whenever
// the running max grows), then the gradient; each thread moves v logits per access (16 bytes where Kernels found
// the rows aligned and V a multiple of v, else 1): the [N, V] logits are the largest tensor of a step. Keeping the row
// in dynamic shared memory for the second pass (two 100 KB blocks an SM instead of four) measured slower at preset M on
// the H100: 1.72 against 1.62 ms a call (fb744c7, kernels-fb744c7-h100.json), so the second pass reads the row again.

#define NEG_INF __int_as_float(0xff800000)   // NVRTC has no <cmath>, so no INFINITY

// (m, s) with s = Σ exp(x - m) over what was seen; merging rescales the sum with the smaller max.
__device__ __forceinline__ void lse_merge(float& m, float& s, float m2, float s2) {
    float mx = fmaxf(m, m2);
    s = (m == NEG_INF ? 0.f : s * expf(m - mx)) + (m2 == NEG_INF ? 0.f : s2 * expf(m2 - mx));
    m = mx;
}

// log Σ_j exp(row[j]) for one block's row in one pass (the max kept running so exp never overflows).
template <typename T, int V>
__device__ float row_logsumexp(const T* row, int n, float* sh) {
    float m = NEG_INF, s = 0.f;
    for (int j = threadIdx.x * V; j < n; j += blockDim.x * V) {
        float a[V];
        loadv<V>(row + j, a);
#pragma unroll
        for (int k = 0; k < V; k++) {
            if (a[k] > m) { s = s * expf(m - a[k]) + 1.f; m = a[k]; }
            else s += expf(a[k] - m);
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
__device__ void crossentropy_rows(T* logits, float* losses, const int* targets, int n, float scale) {
    __shared__ float sh[64];
    T* row = logits + (long)blockIdx.x * n;
    int target = targets[blockIdx.x];
    float lse = row_logsumexp<T, V>(row, n, sh);
    if (threadIdx.x == 0) losses[blockIdx.x] = lse - load(&row[target]);
    __syncthreads();
    for (int j = threadIdx.x * V; j < n; j += blockDim.x * V) {
        float a[V];
        loadv<V>(row + j, a);
#pragma unroll
        for (int k = 0; k < V; k++) a[k] = (expf(a[k] - lse) - (j + k == target ? 1.f : 0.f)) * scale;
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

// Only the losses (evaluation): same reduction, logits untouched.
template <typename T, int V>
__device__ void crossentropy_losses(const T* logits, float* losses, const int* targets, int n) {
    __shared__ float sh[64];
    const T* row = logits + (long)blockIdx.x * n;
    float lse = row_logsumexp<T, V>(row, n, sh);
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
