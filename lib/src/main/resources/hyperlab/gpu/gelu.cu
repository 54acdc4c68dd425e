// The exact GELU of nanoGPT, x * Phi(x) = x (1 + erf(x / sqrt 2)) / 2, and its derivative Phi(x) + x phi(x), on
// fp32 or (the bf16 engine) bf16 tensors with fp32 maths (needs bf16.cuh and columns.cuh). Each thread moves v
// elements (v = 1, or 16 bytes' worth when Kernels found the pointers aligned): these kernels are memory-bound.

__device__ __forceinline__ float gelu_f(float v) { return 0.5f * v * (1.f + erff(v * 0.70710678118654752f)); }

// d gelu / dx = Phi(x) + x * phi(x), phi the standard normal density
__device__ __forceinline__ float gelu_grad(float v) {
    float cdf = 0.5f * (1.f + erff(v * 0.70710678118654752f));
    return cdf + v * 0.39894228040143268f * expf(-0.5f * v * v);
}

// The bf16 kernels spend most of their time in erff (~24 instructions, both branches' coefficients selected), not in
// memory: they take Phi from Abramowitz & Stegun 7.1.26, erfc(z) = t (a1 + t (a2 + ... + t a5)) e^(-z^2),
// t = 1 / (1 + p z), |error| <= 1.5e-7, whose e^(-x^2 / 2) is also the backward's phi. Against float64: |gelu| error
// <= 4.2e-7, |gelu'| error <= 2.5e-7 (relative 1.7e-4 in the far negative tail), 20x under one bf16 rounding (2^-9).
__device__ __forceinline__ float normal_cdf(float v, float e) {   // Phi(v), given e = e^(-v^2 / 2)
    float t = __fdividef(1.f, fmaf(0.3275911f * 0.70710678118654752f, fabsf(v), 1.f));
    // the coefficients a1..a5 halved: h = Phi(-|v|) = erfc(|v| / sqrt 2) / 2
    float p = fmaf(t, fmaf(t, fmaf(t, fmaf(t, 0.5307027145f, -0.7265760135f), 0.7107068705f), -0.142248368f), 0.127414796f);
    float h = t * p * e;
    return v < 0.f ? h : 1.f - h;
}

__device__ __forceinline__ float half_gauss(float v) { return exp2f(v * v * -0.72134752044448170f); }   // e^(-v^2 / 2)

__device__ __forceinline__ float gelu_fast(float v) {
    return v * normal_cdf(v, half_gauss(v));
}

__device__ __forceinline__ float gelu_grad_fast(float v) {
    float e = half_gauss(v);
    return fmaf(v * 0.39894228040143268f, e, normal_cdf(v, e));
}

// fp32 tensors (the engine's reference precision) get erff; bf16 ones the fast form, below their own rounding
__device__ __forceinline__ float gelu_of(float v, const float*) { return gelu_f(v); }
__device__ __forceinline__ float gelu_of(float v, const bf16_t*) { return gelu_fast(v); }
__device__ __forceinline__ float gelu_grad_of(float v, const float*) { return gelu_grad(v); }
__device__ __forceinline__ float gelu_grad_of(float v, const bf16_t*) { return gelu_grad_fast(v); }

template <typename T, int V>
__device__ void gelu_elem(T* out, const T* x, long count) {
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * V;
    if (i >= count) return;
    if (i + V <= count) {
        float a[V];
        loadv<V>(x + i, a);
#pragma unroll
        for (int j = 0; j < V; j++) a[j] = gelu_of(a[j], x);
        storev<V>(out + i, a);
    } else {
        for (; i < count; i++) store(&out[i], gelu_of(load(&x[i]), x));
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

// dx = dout * gelu'(x), stored (dx may alias dout); yields dx as stored (bf16-rounded for bf16), which is what the
// weight-gradient GEMM reads: the fc bias gradient comes with the GELU backward, in one pass over dout and x.
template <typename T, int V>
struct GeluBackward {
    T* dx;
    const T* dout;
    const T* x;
    __device__ void operator()(long off, float (&a)[V]) const {
        float g[V];
        loadv<V>(x + off, a);
        loadv<V>(dout + off, g);
#pragma unroll
        for (int j = 0; j < V; j++) a[j] = g[j] * gelu_grad_of(a[j], x);
        storev<V>(dx + off, a);
#pragma unroll
        for (int j = 0; j < V; j++) a[j] = as_stored(a[j], dx);
    }
};

// v: columns per thread (1, or 4 for fp32 / 8 for bf16 where M is a multiple of v and every tensor is 16-byte aligned)
extern "C" __global__ void gelu_backward_bias(float* dx, float* dbias, const float* dout, const float* x, int N, int M, int v) {
    if (v == 4) column_sums<4>(dbias, N, M, GeluBackward<float, 4>{dx, dout, x});
    else column_sums<1>(dbias, N, M, GeluBackward<float, 1>{dx, dout, x});
}

extern "C" __global__ void gelu_backward_bias_bf16(bf16_t* dx, float* dbias, const bf16_t* dout, const bf16_t* x, int N, int M,
                                                   int v) {
    if (v == 8) column_sums<8>(dbias, N, M, GeluBackward<bf16_t, 8>{dx, dout, x});
    else column_sums<1>(dbias, N, M, GeluBackward<bf16_t, 1>{dx, dout, x});
}

extern "C" __global__ void bias_backward(float* dbias, const float* dout, int N, int M, int v) {
    if (v == 4) column_sums<4>(dbias, N, M, Values<float, 4>{dout});
    else column_sums<1>(dbias, N, M, Values<float, 1>{dout});
}

extern "C" __global__ void bias_backward_bf16(float* dbias, const bf16_t* dout, int N, int M, int v) {
    if (v == 8) column_sums<8>(dbias, N, M, Values<bf16_t, 8>{dout});
    else column_sums<1>(dbias, N, M, Values<bf16_t, 1>{dout});
}
