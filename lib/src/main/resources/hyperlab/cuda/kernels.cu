// HyperLab's own CUDA kernels, compiled at run time by NVRTC (and by nvcc in CI through lib/bin/nvcc-check.sh).
// extern "C" keeps the names unmangled so CudaModule.function("vector_add") finds them.

extern "C" __global__ void vector_add(const float* a, const float* b, float* c, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) c[i] = a[i] + b[i];
}

// Sums x[0..n) into partial[blockIdx.x]; run again over the partials with one block for the total.
// Deterministic: a fixed tree per block, no atomics. blockDim.x must be a power of two <= 1024.
extern "C" __global__ void reduce_sum(const float* x, float* partial, long long n) {
    __shared__ float warp_sums[32];
    float s = 0.f;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        s += x[i];
    }
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) warp_sums[warp] = s;
    __syncthreads();
    if (warp == 0) {
        s = lane < (blockDim.x >> 5) ? warp_sums[lane] : 0.f;
        for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffffu, s, o);
        if (lane == 0) partial[blockIdx.x] = s;
    }
}

// Launch-overhead probe: does nothing.
extern "C" __global__ void empty() {}

// Copy with 16-byte accesses, a bandwidth reference next to cuMemcpyDtoD. n4 counts float4 elements.
extern "C" __global__ void copy_f4(const float4* __restrict__ src, float4* __restrict__ dst, long long n4) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n4; i += (long long)gridDim.x * blockDim.x) {
        dst[i] = src[i];
    }
}
