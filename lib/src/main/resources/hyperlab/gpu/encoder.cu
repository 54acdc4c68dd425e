// Token + position embedding into n residual streams, the stream mean before the final norm, and the
// plain residual add; forward and backward. Layouts are row-major: streams x [N, n, C] with N = B*T.

// x[i, s, :] = wte[ids[i]] + wpe[i % T] for every stream s (the stream expand copies the embedding).
extern "C" __global__ void encoder_forward(float* x, const int* ids, const float* wte, const float* wpe,
                                           int N, int T, int C, int n) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)N * C) return;
    int i = (int)(idx / C), c = (int)(idx % C);
    float v = wte[(long)ids[i] * C + c] + wpe[(long)(i % T) * C + c];
    for (int s = 0; s < n; s++) x[((long)i * n + s) * C + c] = v;
}

// dwte[ids[i]] += sum_s dx[i, s]  (atomics: tokens repeat), dwpe[t] += sum_{b,s} dx[b*T + t, s] (one thread each).
extern "C" __global__ void encoder_backward_wte(float* dwte, const float* dx, const int* ids, int N, int C, int n) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)N * C) return;
    int i = (int)(idx / C), c = (int)(idx % C);
    float g = 0.f;
    for (int s = 0; s < n; s++) g += dx[((long)i * n + s) * C + c];
    atomicAdd(&dwte[(long)ids[i] * C + c], g);
}

extern "C" __global__ void encoder_backward_wpe(float* dwpe, const float* dx, int B, int T, int C, int n) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)T * C) return;
    int t = (int)(idx / C), c = (int)(idx % C);
    float g = 0.f;
    for (int b = 0; b < B; b++)
        for (int s = 0; s < n; s++) g += dx[(((long)b * T + t) * n + s) * C + c];
    dwpe[idx] += g;
}

// out[i, :] = mean_s x[i, s, :]  (the stream reduce before ln_f)
extern "C" __global__ void stream_mean_forward(float* out, const float* x, int N, int C, int n) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)N * C) return;
    int i = (int)(idx / C), c = (int)(idx % C);
    float acc = 0.f;
    for (int s = 0; s < n; s++) acc += x[((long)i * n + s) * C + c];
    out[idx] = acc / n;
}

extern "C" __global__ void stream_mean_backward(float* dx, const float* dout, int N, int C, int n) {
    long idx = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (idx >= (long)N * C) return;
    int i = (int)(idx / C), c = (int)(idx % C);
    float g = dout[idx] / n;
    for (int s = 0; s < n; s++) dx[((long)i * n + s) * C + c] = g;
}
