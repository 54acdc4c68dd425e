// bfloat16 helpers shared by the engine's kernels (prepended to their sources by Kernels): bf16 is stored as its
// bits in an unsigned short; conversions round to nearest even like __float2bfloat16_rn, NaN stays NaN
// (a quiet NaN; its payload may differ by architecture).

typedef unsigned short bf16_t;

__device__ __forceinline__ float bf2f(bf16_t v) { return __int_as_float((int)((unsigned)v << 16)); }

// sm_80+: one cvt.rn.bf16.f32 instead of the 11 integer instructions below (the GELU kernels are instruction-bound)
__device__ __forceinline__ bf16_t f2bf(float f) {
#if !defined(HYPERLAB_EMU) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800
    bf16_t r;
    asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(f));
    return r;
#else
    unsigned u = (unsigned)__float_as_int(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (bf16_t)((u >> 16) | 0x40u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (bf16_t)(u >> 16);
#endif
}

// element access for kernels templated on the activation type (float or bf16_t)
__device__ __forceinline__ float load(const float* p) { return *p; }
__device__ __forceinline__ float load(const bf16_t* p) { return bf2f(*p); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(bf16_t* p, float v) { *p = f2bf(v); }
// v as a store to *p keeps it
__device__ __forceinline__ float as_stored(float v, const float*) { return v; }
__device__ __forceinline__ float as_stored(float v, const bf16_t*) { return bf2f(f2bf(v)); }

// V consecutive elements moved as one access (16 bytes for V = 16 / sizeof(T)): memory-bound kernels reach full
// bandwidth only with wide loads, and 2-byte bf16 accesses are the narrowest there are. V = 1 is the plain path for
// unaligned data; the caller checks alignment (Kernels.vector).
template <typename T, int V>
struct alignas(sizeof(T) * V) Pack {
    T v[V];
};

template <typename T, int V>
__device__ __forceinline__ void unpackv(const Pack<T, V>& k, float (&out)[V]) {
#pragma unroll
    for (int j = 0; j < V; j++) out[j] = load(&k.v[j]);
}

// (the copy into k makes it one vector load: unpacking *p in place let the compiler split it into V scalar loads)
template <int V, typename T>
__device__ __forceinline__ void loadv(const T* p, float (&out)[V]) {
    const Pack<T, V> k = *reinterpret_cast<const Pack<T, V>*>(p);
    unpackv(k, out);
}

template <int V, typename T>
__device__ __forceinline__ void storev(T* p, const float (&in)[V]) {
    Pack<T, V> k;
#pragma unroll
    for (int j = 0; j < V; j++) store(&k.v[j], in[j]);
    *reinterpret_cast<Pack<T, V>*>(p) = k;
}

// p[0..V) += a[0..V) for V = 1, 2 or 4 (p aligned to V floats): one red.global.add.v2/.v4.f32 on sm_90, V atomics
// elsewhere. An L2 atomic costs about the same for four floats as for one (the wte gradient's scatter-add, dQ's sums).
template <int V>
__device__ __forceinline__ void redv(float* p, const float (&a)[V]) {
#if !defined(HYPERLAB_EMU) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    if constexpr (V == 4)
        asm volatile("red.global.add.v4.f32 [%0], {%1, %2, %3, %4};\n" ::"l"(p), "f"(a[0]), "f"(a[1]), "f"(a[2]), "f"(a[3]) : "memory");
    else if constexpr (V == 2)
        asm volatile("red.global.add.v2.f32 [%0], {%1, %2};\n" ::"l"(p), "f"(a[0]), "f"(a[1]) : "memory");
    else
#endif
    for (int j = 0; j < V; j++) atomicAdd(p + j, a[j]);
}
