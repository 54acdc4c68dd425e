// The optimiser over the contiguous gradient buffer: global gradient norm, then AdamW with the clip
// factor applied on the fly (read from device memory, so no host round trip between the two).

// partial[block] = sum of squares of its grid-stride share of g (blockDim 256); sumsq_finish adds them up.
extern "C" __global__ void sumsq_partial(float* partial, const float* g, long count) {
    __shared__ float sh[256];
    float acc = 0.f;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x) acc += g[i] * g[i];
    sh[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) partial[blockIdx.x] = sh[0];
}

// out[0] = sqrt(sum partial) (the global norm); one block of 256 threads, deterministic order.
extern "C" __global__ void sumsq_finish(float* out, const float* partial, int parts) {
    __shared__ double sh[256];
    double acc = 0.0;
    for (int i = threadIdx.x; i < parts; i += blockDim.x) acc += partial[i];
    sh[threadIdx.x] = acc;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] += sh[threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) out[0] = (float)sqrt(sh[0]);
}

// p <- p (1 - lr wd); m <- b1 m + (1-b1) g; v <- b2 v + (1-b2) g^2; p <- p - lr mhat / (sqrt(vhat) + eps),
// with g = grad * clip where clip = maxNorm / (norm + 1e-6) when the norm exceeds maxNorm (> 0), else 1.
extern "C" __global__ void adamw_update(float* p, const float* grad, float* m, float* v, long count, float lr,
                                        float beta1, float beta2, float c1, float c2, float eps, float wd,
                                        const float* norm, float maxNorm) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= count) return;
    float nrm = norm[0];
    float clip = (maxNorm > 0.f && nrm > maxNorm) ? maxNorm / (nrm + 1e-6f) : 1.f;
    float g = grad[i] * clip;
    float w = p[i] * (1.f - lr * wd);
    float mi = beta1 * m[i] + (1.f - beta1) * g;
    float vi = beta2 * v[i] + (1.f - beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    p[i] = w - lr * (mi / c1) / (sqrtf(vi / c2) + eps);
}
