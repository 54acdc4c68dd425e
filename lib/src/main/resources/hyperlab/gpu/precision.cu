// The bf16 engine's casts: fp32 master weights and fp32 activations rounded to bfloat16 (bits in unsigned short)
// for the tensor-core GEMMs and attention, round to nearest even like __float2bfloat16_rn; NaN stays NaN.

typedef unsigned short bf16_t;

__device__ __forceinline__ bf16_t f2bf(float f) {
    unsigned u = (unsigned)__float_as_int(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16_t)(u >> 16);
}

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
