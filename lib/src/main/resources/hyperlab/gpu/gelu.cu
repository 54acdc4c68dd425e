// The exact GELU of nanoGPT, x * Phi(x) = x (1 + erf(x / sqrt 2)) / 2, and its derivative Phi(x) + x phi(x), on
// fp32 or (the bf16 engine) bf16 tensors with fp32 maths (needs bf16.cuh). Each thread moves v elements (v = 1, or
// 16 bytes' worth when Kernels found the pointers aligned): these kernels are memory-bound.

__device__ __forceinline__ float gelu_f(float v) { return 0.5f * v * (1.f + erff(v * 0.70710678118654752f)); }

// d gelu / dx = Phi(x) + x * phi(x), phi the standard normal density
__device__ __forceinline__ float gelu_grad(float v) {
    float cdf = 0.5f * (1.f + erff(v * 0.70710678118654752f));
    return cdf + v * 0.39894228040143268f * expf(-0.5f * v * v);
}

template <typename T, int V>
__device__ void gelu_elem(T* out, const T* x, long count) {
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * V;
    if (i >= count) return;
    if (i + V <= count) {
        float a[V];
        loadv<V>(x + i, a);
#pragma unroll
        for (int j = 0; j < V; j++) a[j] = gelu_f(a[j]);
        storev<V>(out + i, a);
    } else {
        for (; i < count; i++) store(&out[i], gelu_f(load(&x[i])));
    }
}

// dx = dout * gelu'(x) (overwrites dx; dx may alias dout)
template <typename T, int V>
__device__ void gelu_backward_elem(T* dx, const T* dout, const T* x, long count) {
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * V;
    if (i >= count) return;
    if (i + V <= count) {
        float a[V], g[V];
        loadv<V>(x + i, a);
        loadv<V>(dout + i, g);
#pragma unroll
        for (int j = 0; j < V; j++) a[j] = g[j] * gelu_grad(a[j]);
        storev<V>(dx + i, a);
    } else {
        for (; i < count; i++) store(&dx[i], load(&dout[i]) * gelu_grad(load(&x[i])));
    }
}

extern "C" __global__ void gelu_forward(float* out, const float* x, long count, int v) {
    if (v == 4) gelu_elem<float, 4>(out, x, count);
    else gelu_elem<float, 1>(out, x, count);
}

extern "C" __global__ void gelu_forward_bf16(bf16_t* out, const bf16_t* x, long count, int v) {
    if (v == 8) gelu_elem<bf16_t, 8>(out, x, count);
    else gelu_elem<bf16_t, 1>(out, x, count);
}

extern "C" __global__ void gelu_backward(float* dx, const float* dout, const float* x, long count, int v) {
    if (v == 4) gelu_backward_elem<float, 4>(dx, dout, x, count);
    else gelu_backward_elem<float, 1>(dx, dout, x, count);
}

extern "C" __global__ void gelu_backward_bf16(bf16_t* dx, const bf16_t* dout, const bf16_t* x, long count, int v) {
    if (v == 8) gelu_backward_elem<bf16_t, 8>(dx, dout, x, count);
    else gelu_backward_elem<bf16_t, 1>(dx, dout, x, count);
}

// dbias[j] += sum_i dout[i, j]. Block (32, 8): thread x owns V adjacent columns of a 32·V-column tile (block x), so
// a warp reads 32·V consecutive values of a row; the 8 thread rows and the row chunks (block y) stride the rows.
// Shared partials, then one atomic per column and chunk.
template <typename T, int V>
__device__ void bias_backward_rows(float* dbias, const T* dout, int N, int M) {
    __shared__ float part[8][32 * V + 1];
    int j0 = (blockIdx.x * 32 + threadIdx.x) * V;
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; j++) acc[j] = 0.f;
    if (j0 < M)
        for (int i = blockIdx.y * blockDim.y + threadIdx.y; i < N; i += gridDim.y * blockDim.y) {
            float a[V];
            loadv<V>(dout + (long)i * M + j0, a);
#pragma unroll
            for (int j = 0; j < V; j++) acc[j] += a[j];
        }
#pragma unroll
    for (int j = 0; j < V; j++) part[threadIdx.y][threadIdx.x * V + j] = acc[j];
    __syncthreads();
    if (threadIdx.y == 0 && j0 < M) {
#pragma unroll
        for (int j = 0; j < V; j++) {
            float s = 0.f;
            for (int y = 0; y < 8; y++) s += part[y][threadIdx.x * V + j];
            atomicAdd(&dbias[j0 + j], s);
        }
    }
}

// v: columns per thread (1, or 4 for fp32 / 8 for bf16 where M is a multiple of v and dout is 16-byte aligned)
extern "C" __global__ void bias_backward(float* dbias, const float* dout, int N, int M, int v) {
    if (v == 4) bias_backward_rows<float, 4>(dbias, dout, N, M);
    else bias_backward_rows<float, 1>(dbias, dout, N, M);
}

extern "C" __global__ void bias_backward_bf16(float* dbias, const bf16_t* dout, int N, int M, int v) {
    if (v == 8) bias_backward_rows<bf16_t, 8>(dbias, dout, N, M);
    else bias_backward_rows<bf16_t, 1>(dbias, dout, N, M);
}
