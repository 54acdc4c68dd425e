// The optimiser over the contiguous gradient buffer: global gradient norm, then AdamW with the clip
// factor applied on the fly (read from device memory, so no host round trip between the two); needs bf16.cuh for its
// vector loads.
// Both passes are memory-bound: a thread moves 16 bytes per array at a time where the arrays are 16-byte aligned.

// partial[block] = sum of squares of its grid-stride share of g (blockDim 256); sumsq_finish adds them up. v = 4:
// g is 16-byte aligned and each thread reads float4s (four loads in flight where one float was), the < 4 last
// elements by thread 0 of block 0.
extern "C" __global__ void sumsq_partial(float* partial, const float* g, long count, int v) {
    __shared__ float sh[256];
    float acc = 0.f;
    long first = (long)blockIdx.x * blockDim.x + threadIdx.x, stride = (long)gridDim.x * blockDim.x;
    if (v == 4) {
        const float4* g4 = reinterpret_cast<const float4*>(g);
        for (long i = first; i < count / 4; i += stride) {
            float4 q = g4[i];
            acc += q.x * q.x + q.y * q.y + q.z * q.z + q.w * q.w;
        }
        if (first == 0)
            for (long i = count / 4 * 4; i < count; i++) acc += g[i] * g[i];
    } else {
        for (long i = first; i < count; i += stride) acc += g[i] * g[i];
    }
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
__device__ __forceinline__ void adamw_one(float& p, float grad, float& m, float& v, float clip, float lr, float beta1,
                                          float beta2, float c1, float c2, float eps, float wd) {
    float g = grad * clip;
    float w = p * (1.f - lr * wd);
    m = beta1 * m + (1.f - beta1) * g;
    v = beta2 * v + (1.f - beta2) * g * g;
    p = w - lr * (m / c1) / (sqrtf(v / c2) + eps);
}

// V elements per thread (V = 4 where p, grad, m and v are 16-byte aligned and lo 8-byte aligned). lo (or null): the new
// weights rounded to bf16 as well, the copy the next step's GEMMs read, so that step needs no cast pass over p.
template <int V>
__device__ void adamw_elems(float* p, bf16_t* lo, const float* grad, float* m, float* v, long count, float lr, float beta1,
                            float beta2, float c1, float c2, float eps, float wd, const float* norm, float maxNorm) {
    long i = ((long)blockIdx.x * blockDim.x + threadIdx.x) * V;
    if (i >= count) return;
    float nrm = norm[0];
    float clip = (maxNorm > 0.f && nrm > maxNorm) ? maxNorm / (nrm + 1e-6f) : 1.f;
    if (i + V <= count) {
        float pv[V], gv[V], mv[V], vv[V];
        loadv<V>(p + i, pv);
        loadv<V>(grad + i, gv);
        loadv<V>(m + i, mv);
        loadv<V>(v + i, vv);
#pragma unroll
        for (int j = 0; j < V; j++) adamw_one(pv[j], gv[j], mv[j], vv[j], clip, lr, beta1, beta2, c1, c2, eps, wd);
        storev<V>(p + i, pv);
        storev<V>(m + i, mv);
        storev<V>(v + i, vv);
        if (lo) storev<V>(lo + i, pv);
    } else {
        for (; i < count; i++) {
            adamw_one(p[i], grad[i], m[i], v[i], clip, lr, beta1, beta2, c1, c2, eps, wd);
            if (lo) lo[i] = f2bf(p[i]);
        }
    }
}

extern "C" __global__ void adamw_update(float* p, bf16_t* lo, const float* grad, float* m, float* v, long count, float lr,
                                        float beta1, float beta2, float c1, float c2, float eps, float wd,
                                        const float* norm, float maxNorm, int vec) {
    if (vec == 4) adamw_elems<4>(p, lo, grad, m, v, count, lr, beta1, beta2, c1, c2, eps, wd, norm, maxNorm);
    else adamw_elems<1>(p, lo, grad, m, v, count, lr, beta1, beta2, c1, c2, eps, wd, norm, maxNorm);
}
