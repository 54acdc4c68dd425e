// Fused softmax cross-entropy over the vocabulary, one block per token row: writes the row's loss
// -log softmax(logits)[target] and overwrites the logits with their gradient (softmax - onehot) * scale,
// so the [N, V] probabilities never exist as a separate buffer. Logits are fp32, or bf16 for the bf16 engine (fp32
// maths either way; needs bf16.cuh).

#define NEG_INF __int_as_float(0xff800000)   // NVRTC has no <cmath>, so no INFINITY

__device__ __forceinline__ float block_reduce(float v, bool isMax, float* sh) {
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = isMax ? fmaxf(v, w) : v + w;
    }
    int warp = threadIdx.x / 32, lane = threadIdx.x % 32, warps = blockDim.x / 32;
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = lane < warps ? sh[lane] : (isMax ? NEG_INF : 0.f);
    for (int o = 16; o > 0; o >>= 1) {
        float w = __shfl_xor_sync(0xffffffffu, v, o);
        v = isMax ? fmaxf(v, w) : v + w;
    }
    __syncthreads();
    return v;
}

// log Σ_j exp(row[j]) for one block's row, with the max subtracted first so exp never overflows.
template <typename T>
__device__ float row_logsumexp(const T* row, int V, float* sh) {
    float m = NEG_INF;
    for (int j = threadIdx.x; j < V; j += blockDim.x) m = fmaxf(m, load(&row[j]));
    m = block_reduce(m, true, sh);
    float s = 0.f;
    for (int j = threadIdx.x; j < V; j += blockDim.x) s += expf(load(&row[j]) - m);
    return m + logf(block_reduce(s, false, sh));
}

template <typename T>
__device__ void crossentropy_rows(T* logits, float* losses, const int* targets, int V, float scale) {
    __shared__ float sh[32];
    T* row = logits + (long)blockIdx.x * V;
    int target = targets[blockIdx.x];
    float lse = row_logsumexp(row, V, sh);
    if (threadIdx.x == 0) losses[blockIdx.x] = lse - load(&row[target]);
    __syncthreads();
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float p = expf(load(&row[j]) - lse);
        store(&row[j], (p - (j == target ? 1.f : 0.f)) * scale);
    }
}

extern "C" __global__ void crossentropy_forward_backward(float* logits, float* losses, const int* targets,
                                                         int V, float scale) {
    crossentropy_rows(logits, losses, targets, V, scale);
}

extern "C" __global__ void crossentropy_forward_backward_bf16(bf16_t* logits, float* losses, const int* targets,
                                                              int V, float scale) {
    crossentropy_rows(logits, losses, targets, V, scale);
}

// Only the losses (evaluation): same reduction, logits untouched.
template <typename T>
__device__ void crossentropy_losses(const T* logits, float* losses, const int* targets, int V) {
    __shared__ float sh[32];
    const T* row = logits + (long)blockIdx.x * V;
    float lse = row_logsumexp(row, V, sh);
    if (threadIdx.x == 0) losses[blockIdx.x] = lse - load(&row[targets[blockIdx.x]]);
}

extern "C" __global__ void crossentropy_forward(const float* logits, float* losses, const int* targets, int V) {
    crossentropy_losses(logits, losses, targets, V);
}

extern "C" __global__ void crossentropy_forward_bf16(const bf16_t* logits, float* losses, const int* targets, int V) {
    crossentropy_losses(logits, losses, targets, V);
}
