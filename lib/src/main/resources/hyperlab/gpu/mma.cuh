// Tensor-core products for the engine's kernels (prepended to the sources that say "needs mma.cuh").
// * fp32-class accuracy (3xTF32): a tf32 mma.sync keeps 10 mantissa bits, so each fp32 operand is split into a tf32
//   high part and a tf32 remainder, and three products (lo·hi, hi·lo, hi·hi) carry about as many bits as one fp32 FMA
//   chain.
// * bf16 mma.sync m16n8k16 with fp32 accumulation, its operands as two bf16 per 32-bit register (lower index in the
//   low half), from registers or by ldmatrix. Fragments (g = lane / 4, t = lane % 4):
//     A 16x16: a0 (row g, k 2t..2t+1), a1 (row g+8, k 2t..), a2 (row g, k 2t+8..), a3 (row g+8, k 2t+8..)
//     B 16x8:  b0 (k 2t..2t+1, col g), b1 (k 2t+8.., col g)
//     C 16x8:  c0, c1 (row g, cols 2t, 2t+1), c2, c3 (row g+8, cols 2t, 2t+1)
// On the CPU emulator (blocks run one at a time) the fragments are gathered into per-warp arrays and multiplied in
// fp32, with the same roundings; a warp is 32 consecutive threads of the block in x, y, z order.

namespace {

__device__ __forceinline__ int warp_of_block() {   // (the emulator's per-warp arrays)
    return ((threadIdx.z * blockDim.y + threadIdx.y) * blockDim.x + threadIdx.x) / 32;
}

#ifdef HYPERLAB_EMU
// The emulator's product of one warp's gathered tiles: c (C layout) += A [16][K] . B [K][8], once the whole warp has
// written its fragments; the tiles are reused by the warp's next product only after every lane has read them.
template <int K>
__device__ __forceinline__ void emu_mma(float* c, const float (&A)[16][K], const float (&B)[K][8]) {
    const int lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    __syncwarp();
    for (int e = 0; e < 4; e++) {
        const int row = g + (e >> 1) * 8, col = 2 * t + (e & 1);
        float s = 0.f;
        for (int k = 0; k < K; k++) s += A[row][k] * B[k][col];
        c[e] += s;
    }
    __syncwarp();
}
#endif

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
    static float A[32][16][8], B[32][8][8];      // per warp of the block
    const int w = warp_of_block(), lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    A[w][g][t] = __int_as_float((int) a[0]);
    A[w][g + 8][t] = __int_as_float((int) a[1]);
    A[w][g][t + 4] = __int_as_float((int) a[2]);
    A[w][g + 8][t + 4] = __int_as_float((int) a[3]);
    B[w][t][g] = __int_as_float((int) b[0]);
    B[w][t + 4][g] = __int_as_float((int) b[1]);
    emu_mma(c, A[w], B[w]);
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

__device__ __forceinline__ unsigned ld32(const bf16_t* p) {   // two adjacent bf16 (p 4-byte aligned)
    return *reinterpret_cast<const unsigned*>(p);
}

// Two floats rounded to bf16 (nearest even) in one register, lo in the low half.
__device__ __forceinline__ unsigned pack2(float lo, float hi) {
#ifdef HYPERLAB_EMU
    return (unsigned)f2bf(lo) | ((unsigned)f2bf(hi) << 16);
#else
    unsigned r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
#endif
}

// The bf16 pair's values as floats.
__device__ __forceinline__ float lo_of(unsigned v) { return __int_as_float((int)(v << 16)); }
__device__ __forceinline__ float hi_of(unsigned v) { return __int_as_float((int)(v & 0xffff0000u)); }

// (lo, hi) = bf16 high parts in hi2 and the bf16 remainders in lo2: v ≈ high + remainder to ~16 mantissa bits, so two
// bf16 products against an exact bf16 operand carry about fp32's accuracy.
__device__ __forceinline__ void split_bf16(float lo, float hi, unsigned& hi2, unsigned& lo2) {
    hi2 = pack2(lo, hi);
    lo2 = pack2(lo - lo_of(hi2), hi - hi_of(hi2));
}

// One value the same way, as the split copies that kernels read back by ldmatrix store it: hi = bf16(v), lo = bf16(v - hi).
__device__ __forceinline__ void split_bf16(float v, bf16_t& hi, bf16_t& lo) {
    hi = f2bf(v);
    lo = f2bf(v - bf2f(hi));
}

// c += a . b for one m16n8k16 tile, bf16 operands, fp32 accumulation.
__device__ __forceinline__ void mma_bf16(float* c, const unsigned* a, const unsigned* b) {
#ifdef HYPERLAB_EMU
    static float A[32][16][16], B[32][16][8];   // per warp of the block
    const int w = warp_of_block(), lane = threadIdx.x % 32, g = lane >> 2, t = lane & 3;
    for (int half = 0; half < 2; half++) {
        A[w][g][2 * t + half] = bf2f((bf16_t)(a[0] >> (16 * half)));
        A[w][g + 8][2 * t + half] = bf2f((bf16_t)(a[1] >> (16 * half)));
        A[w][g][2 * t + 8 + half] = bf2f((bf16_t)(a[2] >> (16 * half)));
        A[w][g + 8][2 * t + 8 + half] = bf2f((bf16_t)(a[3] >> (16 * half)));
        B[w][2 * t + half][g] = bf2f((bf16_t)(b[0] >> (16 * half)));
        B[w][2 * t + 8 + half][g] = bf2f((bf16_t)(b[1] >> (16 * half)));
    }
    emu_mma(c, A[w], B[w]);
#else
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#endif
}

// Four 8x8 bf16 matrices from shared memory (ldmatrix.x4): lane l gives the address of row l % 8 of matrix l / 8 and
// receives in r[j] the elements (l / 4, 2(l % 4)..+1) of matrix j, or (2(l % 4)..+1, l / 4) when TRANS.
template <bool TRANS>
__device__ __forceinline__ void ldsm4(unsigned (&r)[4], const bf16_t* p) {
#ifdef HYPERLAB_EMU
    static const bf16_t* rows[32][32];   // per warp of the block, per lane
    const int w = warp_of_block(), lane = threadIdx.x % 32;
    rows[w][lane] = p;
    __syncwarp();
    for (int j = 0; j < 4; j++) {
        const int a = TRANS ? 2 * (lane % 4) : lane / 4, c = TRANS ? lane / 4 : 2 * (lane % 4);
        bf16_t lo = rows[w][j * 8 + a][c], hi = TRANS ? rows[w][j * 8 + a + 1][c] : rows[w][j * 8 + a][c + 1];
        r[j] = (unsigned)lo | ((unsigned)hi << 16);
    }
    __syncwarp();
#else
    const unsigned s = (unsigned)__cvta_generic_to_shared(p);
    if (TRANS)
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(s));
    else
        asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                     : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(s));
#endif
}

}  // namespace
