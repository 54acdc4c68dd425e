// The bf16 engine's cast (needs bf16.cuh): fp32 master weights and fp32 gradients rounded to bfloat16 for the
// tensor-core GEMMs.

// out[i] = bf16(x[i]), four per thread (count need not be a multiple of 4)
extern "C" __global__ void to_bf16(bf16_t* out, const float* x, long count) {
    long i = 4 * ((long)blockIdx.x * blockDim.x + threadIdx.x);
    if (i + 3 < count) {
        float4 v = *reinterpret_cast<const float4*>(x + i);
        uint2 packed;
        packed.x = (unsigned)f2bf(v.x) | ((unsigned)f2bf(v.y) << 16);
        packed.y = (unsigned)f2bf(v.z) | ((unsigned)f2bf(v.w) << 16);
        *reinterpret_cast<uint2*>(out + i) = packed;
    } else {
        for (; i < count; i++) out[i] = f2bf(x[i]);
    }
}
