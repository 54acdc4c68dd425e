// Tensor-core products in fp32-class accuracy (3xTF32) for the engine's kernels (prepended to the sources that say
// "needs mma.cuh"): a tf32 mma.sync keeps 10 mantissa bits, so each fp32 operand is split into a tf32 high part and
// a tf32 remainder, and three products (lo·hi, hi·lo, hi·hi) carry about as many bits as one fp32 FMA chain. On the
// CPU emulator the fragments are gathered into per-warp arrays and multiplied in fp32, with the same rounding to tf32.

namespace {

// fp32 -> tf32 (round to nearest, ties away, 10 mantissa bits), as cvt.rna.tf32.f32; the bits stay in a 32-bit word.
__device__ __forceinline__ unsigned tf32(float v) {
#ifdef HYPERLAB_EMU
    unsigned u = (unsigned) __float_as_int(v);
    if ((u & 0x7f800000u) != 0x7f800000u) u = (u + 0x1000u) & 0xffffe000u;
    return u;
#else
    unsigned r;
    asm("cvt.rna.tf32.f32 %0, %1;" : "=r"(r) : "f"(v));
    return r;
#endif
}

// v = hi + lo with both tf32.
__device__ __forceinline__ void split_tf32(float v, unsigned& hi, unsigned& lo) {
    hi = tf32(v);
    lo = tf32(v - __int_as_float((int) hi));
}

// c += a . b for one m16n8k8 tile, tf32 operands, fp32 accumulation. Fragments (g = lane / 4, t = lane % 4):
//   A 16x8: a0 (g, t), a1 (g+8, t), a2 (g, t+4), a3 (g+8, t+4); B 8x8: b0 (t, g), b1 (t+4, g);
//   C 16x8: c0 (g, 2t), c1 (g, 2t+1), c2 (g+8, 2t), c3 (g+8, 2t+1).
__device__ __forceinline__ void mma_tf32(float* c, const unsigned* a, const unsigned* b) {
#ifdef HYPERLAB_EMU
    static float A[32][16][8], B[32][8][8];      // per warp of the block (the emulator runs one block at a time)
    const int tid = (threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x, w = tid / 32, lane = tid % 32;
    const int g = lane >> 2, t = lane & 3;
    A[w][g][t] = __int_as_float((int) a[0]);
    A[w][g + 8][t] = __int_as_float((int) a[1]);
    A[w][g][t + 4] = __int_as_float((int) a[2]);
    A[w][g + 8][t + 4] = __int_as_float((int) a[3]);
    B[w][t][g] = __int_as_float((int) b[0]);
    B[w][t + 4][g] = __int_as_float((int) b[1]);
    __syncwarp();
    for (int e = 0; e < 4; e++) {
        const int row = g + (e >> 1) * 8, col = 2 * t + (e & 1);
        float s = 0.f;
        for (int k = 0; k < 8; k++) s += A[w][row][k] * B[w][k][col];
        c[e] += s;
    }
    __syncwarp();
#else
    asm volatile("mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// An A fragment (K = 4 values) or a B fragment (K = 2) split into tf32 high and low parts.
template <int K>
struct SplitTf32 {
    unsigned hi[K], lo[K];
    __device__ __forceinline__ explicit SplitTf32(const float (&v)[K]) {
#pragma unroll
        for (int k = 0; k < K; k++) split_tf32(v[k], hi[k], lo[k]);
    }
};

// c += a . b in 3xTF32, the small products first.
__device__ __forceinline__ void mma_3xtf32(float* c, const SplitTf32<4>& a, const SplitTf32<2>& b) {
    mma_tf32(c, a.lo, b.hi);
    mma_tf32(c, a.hi, b.lo);
    mma_tf32(c, a.hi, b.hi);
}

}  // namespace
