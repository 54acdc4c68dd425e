// The exact GELU of nanoGPT, x * Phi(x) = x (1 + erf(x / sqrt 2)) / 2, and its derivative Phi(x) + x phi(x), on
// fp32 or (the bf16 engine) bf16 tensors with fp32 maths (needs bf16.cuh).

template <typename T>
__device__ void gelu_elem(T* out, const T* x, long count) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    float v = load(&x[i]);
    store(&out[i], 0.5f * v * (1.f + erff(v * 0.70710678118654752f)));
}

// dx = dout * (Phi(x) + x * phi(x)), phi the standard normal density (overwrites dx; dx may alias dout)
template <typename T>
__device__ void gelu_backward_elem(T* dx, const T* dout, const T* x, long count) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    float v = load(&x[i]);
    float cdf = 0.5f * (1.f + erff(v * 0.70710678118654752f));
    float pdf = 0.39894228040143268f * expf(-0.5f * v * v);
    store(&dx[i], load(&dout[i]) * (cdf + v * pdf));
}

extern "C" __global__ void gelu_forward(float* out, const float* x, long count) { gelu_elem(out, x, count); }

extern "C" __global__ void gelu_forward_bf16(bf16_t* out, const bf16_t* x, long count) { gelu_elem(out, x, count); }

extern "C" __global__ void gelu_backward(float* dx, const float* dout, const float* x, long count) {
    gelu_backward_elem(dx, dout, x, count);
}

extern "C" __global__ void gelu_backward_bf16(bf16_t* dx, const bf16_t* dout, const bf16_t* x, long count) {
    gelu_backward_elem(dx, dout, x, count);
}

// dbias[j] += sum_i dout[i, j]: a 32-column tile per block x, row chunks per block y, shared partials then atomics.
template <typename T>
__device__ void bias_backward_rows(float* dbias, const T* dout, int N, int M) {
    __shared__ float part[8][33];
    int j = blockIdx.x * 32 + threadIdx.x;
    float acc = 0.f;
    if (j < M)
        for (int i = blockIdx.y * blockDim.y + threadIdx.y; i < N; i += gridDim.y * blockDim.y) acc += load(&dout[(long)i * M + j]);
    part[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && j < M) {
        float s = 0.f;
        for (int y = 0; y < 8; y++) s += part[y][threadIdx.x];
        atomicAdd(&dbias[j], s);
    }
}

extern "C" __global__ void bias_backward(float* dbias, const float* dout, int N, int M) { bias_backward_rows(dbias, dout, N, M); }

extern "C" __global__ void bias_backward_bf16(float* dbias, const bf16_t* dout, int N, int M) { bias_backward_rows(dbias, dout, N, M); }
