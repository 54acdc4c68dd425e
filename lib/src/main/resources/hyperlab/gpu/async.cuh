// Asynchronous global -> shared copies (cp.async, sm_80+) shared by the engine's kernels (prepended to the sources
// that say "needs async.cuh"): a tile travels into shared memory without a trip through registers, so a block can keep
// the next tiles in flight while it works on this one. On the CPU emulator each copy happens at once and the waits
// do nothing, which keeps the kernels' results the same there.

namespace {

// 16 bytes (dst, src 16-byte aligned); zeros when !ok (src is then not read, but must still be a valid address).
__device__ __forceinline__ void cp16(void* dst, const void* src, bool ok) {
#ifdef HYPERLAB_EMU
    *reinterpret_cast<int4*>(dst) = ok ? *reinterpret_cast<const int4*>(src) : make_int4(0, 0, 0, 0);
#else
    const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(src), "r"(ok ? 16 : 0) : "memory");
#endif
}

// 4 bytes, for data of any alignment; zero when !ok.
__device__ __forceinline__ void cp4(float* dst, const float* src, bool ok) {
#ifdef HYPERLAB_EMU
    *dst = ok ? *src : 0.f;
#else
    const unsigned s = (unsigned)__cvta_generic_to_shared(dst);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4, %2;\n" ::"r"(s), "l"(src), "r"(ok ? 4 : 0) : "memory");
#endif
}

// Closes this thread's group of copies issued since the last commit.
__device__ __forceinline__ void cp_commit() {
#ifndef HYPERLAB_EMU
    asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}

// Waits until at most N committed groups of this thread are still in flight.
template <int N>
__device__ __forceinline__ void cp_wait() {
#ifndef HYPERLAB_EMU
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

}  // namespace
