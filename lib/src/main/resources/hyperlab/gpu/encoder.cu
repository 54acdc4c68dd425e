// Token + position embedding into n residual streams, the stream mean before the final norm, and the
// plain residual add; forward and backward. Layouts are row-major: streams x [N, n, C] with N = B*T, stored fp32 or
// bf16 (the _bf16 kernels; needs bf16.cuh).

// x[i, s, :] = wte[ids[i]] + wpe[i % T] for every stream s (the stream expand copies the embedding).
template <typename S>
__device__ __forceinline__ void encoder_forward_t(S* x, const int* ids, const float* wte, const float* wpe, int N, int T, int C, int n) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)N * C) return;
    int i = (int)(idx / C), c = (int)(idx % C);
    float v = wte[(long)ids[i] * C + c] + wpe[(long)(i % T) * C + c];
    for (int s = 0; s < n; s++) store(x + ((long)i * n + s) * C + c, v);
}
extern "C" __global__ void encoder_forward(float* x, const int* ids, const float* wte, const float* wpe, int N, int T, int C, int n) {
    encoder_forward_t(x, ids, wte, wpe, N, T, C, n);
}
extern "C" __global__ void encoder_forward_bf16(bf16_t* x, const int* ids, const float* wte, const float* wpe, int N, int T, int C, int n) {
    encoder_forward_t(x, ids, wte, wpe, N, T, C, n);
}

// dwte[ids[i]] += sum_s dx[i, s]  (atomics: tokens repeat), dwpe[t] += sum_{b,s} dx[b*T + t, s] (one thread each).
// V columns per thread (4 where C % 4 == 0 and the rows are 16-byte aligned, else 1)
template <typename S, int V>
__device__ __forceinline__ void encoder_backward_wte_t(float* dwte, const S* dx, const int* ids, int N, int C, int n) {
    const long idx = (long)blockIdx.x * blockDim.x + threadIdx.x, per = C / V;
    if (idx >= (long)N * per) return;
    const int i = (int)(idx / per), c = (int)(idx % per) * V;
    float g[V];
#pragma unroll
    for (int j = 0; j < V; j++) g[j] = 0.f;
    for (int s = 0; s < n; s++) {
        float a[V];
        loadv<V>(dx + ((long)i * n + s) * C + c, a);
#pragma unroll
        for (int j = 0; j < V; j++) g[j] += a[j];
    }
    redv<V>(dwte + (long)ids[i] * C + c, g);   // the scatter-add of 16384 x 768 values at preset M
}
extern "C" __global__ void encoder_backward_wte(float* dwte, const float* dx, const int* ids, int N, int C, int n, int v) {
    if (v == 4) encoder_backward_wte_t<float, 4>(dwte, dx, ids, N, C, n);
    else encoder_backward_wte_t<float, 1>(dwte, dx, ids, N, C, n);
}
extern "C" __global__ void encoder_backward_wte_bf16(float* dwte, const bf16_t* dx, const int* ids, int N, int C, int n, int v) {
    if (v == 4) encoder_backward_wte_t<bf16_t, 4>(dwte, dx, ids, N, C, n);
    else encoder_backward_wte_t<bf16_t, 1>(dwte, dx, ids, N, C, n);
}

template <typename S>
__device__ __forceinline__ void encoder_backward_wpe_t(float* dwpe, const S* dx, int B, int T, int C, int n) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)T * C) return;
    int t = (int)(idx / C), c = (int)(idx % C);
    float g = 0.f;
    for (int b = 0; b < B; b++)
        for (int s = 0; s < n; s++) g += load(dx + (((long)b * T + t) * n + s) * C + c);
    dwpe[idx] += g;
}
extern "C" __global__ void encoder_backward_wpe(float* dwpe, const float* dx, int B, int T, int C, int n) {
    encoder_backward_wpe_t(dwpe, dx, B, T, C, n);
}
extern "C" __global__ void encoder_backward_wpe_bf16(float* dwpe, const bf16_t* dx, int B, int T, int C, int n) {
    encoder_backward_wpe_t(dwpe, dx, B, T, C, n);
}

// out[i, :] = mean_s x[i, s, :]  (the stream reduce before ln_f; out is fp32)
template <typename S>
__device__ __forceinline__ void stream_mean_forward_t(float* out, const S* x, int N, int C, int n) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)N * C) return;
    int i = (int)(idx / C), c = (int)(idx % C);
    float acc = 0.f;
    for (int s = 0; s < n; s++) acc += load(x + ((long)i * n + s) * C + c);
    out[idx] = acc / n;
}
extern "C" __global__ void stream_mean_forward(float* out, const float* x, int N, int C, int n) {
    stream_mean_forward_t(out, x, N, C, n);
}
extern "C" __global__ void stream_mean_forward_bf16(float* out, const bf16_t* x, int N, int C, int n) {
    stream_mean_forward_t(out, x, N, C, n);
}

template <typename S>
__device__ __forceinline__ void stream_mean_backward_t(S* dx, const float* dout, int N, int C, int n) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)N * C) return;
    int i = (int)(idx / C), c = (int)(idx % C);
    float g = dout[idx] / n;
    for (int s = 0; s < n; s++) store(dx + ((long)i * n + s) * C + c, g);
}
extern "C" __global__ void stream_mean_backward(float* dx, const float* dout, int N, int C, int n) {
    stream_mean_backward_t(dx, dout, N, C, n);
}
extern "C" __global__ void stream_mean_backward_bf16(bf16_t* dx, const float* dout, int N, int C, int n) {
    stream_mean_backward_t(dx, dout, N, C, n);
}
