// HyperLab's CPU emulator for CUDA C kernels: compiled with g++ in front of a kernel source, it runs every block of
// a launch one after another and every thread of a block as a fiber, switching at __syncthreads, warp shuffles and
// __syncwarp. A fiber is a worker with its own stack, started once with ucontext and then reused for thread after
// thread; switches are _setjmp/_longjmp (no signal-mask system call), so a switch costs tens of nanoseconds. Slow, single-core and without real concurrency, but it executes the same C code as the
// GPU, so a machine without a GPU (CI) can check kernels against CPU references. Defines HYPERLAB_EMU: code the
// emulator cannot run (bf16 types, tensor-core intrinsics) goes inside #ifndef HYPERLAB_EMU.
#pragma once
#define HYPERLAB_EMU 1
#include <setjmp.h>
#include <ucontext.h>
#include <cmath>
#include <cfloat>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

struct uint3 { unsigned x, y, z; };
struct dim3 { unsigned x, y, z; };
struct alignas(8) float2 { float x, y; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) int2 { int x, y; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(8) uint2 { unsigned x, y; };
inline float2 make_float2(float x, float y) { return {x, y}; }
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int2 make_int2(int x, int y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }

static thread_local uint3 threadIdx, blockIdx;
static thread_local dim3 blockDim, gridDim;
static const int warpSize = 32;

#define __global__
#define __device__
#define __host__
#define __noinline__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static            /* blocks run one at a time, so a static local is the block's shared copy */
#define __launch_bounds__(...)
#define __align__(n) __attribute__((aligned(n)))

namespace emu {
enum State { RUN, BLOCK_BARRIER, WARP_BARRIER, DONE };
struct Fiber {
    jmp_buf jb;                      // where the fiber resumes
    State state;
    uint3 idx;
    bool started;                    // its worker loop is running on its stack
    unsigned char slot[16];          // a shuffle's outgoing value
};
static thread_local std::vector<Fiber> fibers;
static thread_local std::vector<char*> stacks;
static thread_local int current;
static thread_local int blockThreads;   // threads in the block now running
static thread_local jmp_buf scheduler;
static thread_local void (*entry)(void**);
static thread_local void** entryArgs;
static thread_local std::vector<unsigned char> dynamicShared;
static thread_local char error[512];
static const size_t STACK = 256 * 1024;

inline void yield(State s) {
    fibers[current].state = s;
    if (!_setjmp(fibers[current].jb)) _longjmp(scheduler, 1);
}

inline int lane() { return current % 32; }

// A fiber's whole life: run the current thread's kernel body, report DONE, wait to be handed the next thread.
static void worker() {
    for (;;) {
        entry(entryArgs);
        yield(DONE);
    }
}

// Switches to fiber t until it yields; starts its worker on first use.
inline void resume(unsigned t) {
    if (_setjmp(scheduler)) return;
    if (fibers[t].started) _longjmp(fibers[t].jb, 1);
    fibers[t].started = true;
    static thread_local ucontext_t boot, here;
    getcontext(&boot);
    boot.uc_stack.ss_sp = stacks[t];
    boot.uc_stack.ss_size = STACK;
    boot.uc_link = nullptr;
    makecontext(&boot, worker, 0);
    swapcontext(&here, &boot);       // never returns here: the worker comes back through _longjmp(scheduler)
}

template <class... A, size_t... I>
void call(void (*f)(A...), void** args, std::index_sequence<I...>) {
    f(*static_cast<std::remove_cv_t<std::remove_reference_t<A>>*>(args[I])...);
}

template <class... A>
void invoke(void (*f)(A...), void** args) {
    call(f, args, std::index_sequence_for<A...>{});
}

struct Kernel {
    const char* name;
    void (*run)(void**);
};

/** Runs one block; returns false (with error set) on a barrier deadlock. */
inline bool runBlock(unsigned threads) {
    for (unsigned t = 0; t < threads; t++) {
        Fiber& f = fibers[t];
        f.state = RUN;
        f.idx = {t % blockDim.x, (t / blockDim.x) % blockDim.y, t / (blockDim.x * blockDim.y)};
    }
    for (;;) {
        for (unsigned t = 0; t < threads; t++) {
            if (fibers[t].state != RUN) continue;
            current = (int)t;
            threadIdx = fibers[t].idx;
            resume(t);
        }
        bool released = false;
        for (unsigned w = 0; w < threads; w += 32) {       // a warp moves on once none of its threads still runs
            unsigned end = w + 32 < threads ? w + 32 : threads;
            bool waiting = false;
            for (unsigned t = w; t < end; t++) waiting |= fibers[t].state == WARP_BARRIER;
            if (!waiting) continue;
            for (unsigned t = w; t < end; t++)
                if (fibers[t].state == WARP_BARRIER) { fibers[t].state = RUN; released = true; }
        }
        if (released) continue;
        bool atBarrier = false, done = true;
        for (unsigned t = 0; t < threads; t++) {
            atBarrier |= fibers[t].state == BLOCK_BARRIER;
            done &= fibers[t].state == DONE;
        }
        if (done) return true;
        if (atBarrier) {
            for (unsigned t = 0; t < threads; t++)
                if (fibers[t].state == BLOCK_BARRIER) fibers[t].state = RUN;
            continue;
        }
        snprintf(error, sizeof error, "emulator: threads of block (%u,%u,%u) wait at barriers that cannot release",
                 blockIdx.x, blockIdx.y, blockIdx.z);
        for (unsigned t = 0; t < threads; t++) fibers[t].started = false;   // abandon their frames: restart fresh
        return false;
    }
}
}  // namespace emu

inline void __syncthreads() { emu::yield(emu::BLOCK_BARRIER); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::yield(emu::WARP_BARRIER); }
inline void __threadfence() {}
inline void* emu_dynamic_shared() { return emu::dynamicShared.data(); }

template <class T>
inline T emu_shuffle(T v, int srcLane) {
    static_assert(sizeof(T) <= 16, "shuffle of a value wider than 16 bytes");
    memcpy(emu::fibers[emu::current].slot, &v, sizeof(T));
    emu::yield(emu::WARP_BARRIER);
    int base = emu::current - emu::lane();
    int src = base + srcLane;
    T r = v;
    if (srcLane >= 0 && srcLane < 32 && src < emu::blockThreads && emu::fibers[src].state != emu::DONE)
        memcpy(&r, emu::fibers[src].slot, sizeof(T));
    emu::yield(emu::WARP_BARRIER);
    return r;
}
template <class T> inline T __shfl_sync(unsigned, T v, int src, int width = 32) {
    return emu_shuffle(v, (emu::lane() / width) * width + src % width);
}
template <class T> inline T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
    (void)width;
    return emu_shuffle(v, emu::lane() ^ mask);
}
template <class T> inline T __shfl_down_sync(unsigned, T v, int d, int width = 32) {
    int l = emu::lane(), s = l + d;
    return emu_shuffle(v, (s / width == l / width) ? s : l);
}
template <class T> inline T __shfl_up_sync(unsigned, T v, int d, int width = 32) {
    int l = emu::lane(), s = l - d;
    return emu_shuffle(v, (s >= 0 && s / width == l / width) ? s : l);
}

template <class T> inline T atomicAdd(T* a, T v) { T o = *a; *a = o + v; return o; }
template <class T> inline T atomicMax(T* a, T v) { T o = *a; if (v > o) *a = v; return o; }
template <class T> inline T atomicMin(T* a, T v) { T o = *a; if (v < o) *a = v; return o; }
template <class T> inline T atomicExch(T* a, T v) { T o = *a; *a = v; return o; }
template <class T> inline T atomicCAS(T* a, T cmp, T v) { T o = *a; if (o == cmp) *a = v; return o; }
template <class T> inline T __ldg(const T* p) { return *p; }

inline float rsqrtf(float x) { return 1.f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float __saturatef(float x) { return x < 0.f ? 0.f : (x > 1.f ? 1.f : x); }
inline float __int_as_float(int x) { float f; memcpy(&f, &x, 4); return f; }
inline int __float_as_int(float x) { int i; memcpy(&i, &x, 4); return i; }
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }
inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
inline unsigned max(unsigned a, unsigned b) { return a > b ? a : b; }
inline long min(long a, long b) { return a < b ? a : b; }
inline long max(long a, long b) { return a > b ? a : b; }
inline float min(float a, float b) { return fminf(a, b); }
inline float max(float a, float b) { return fmaxf(a, b); }
inline double min(double a, double b) { return fmin(a, b); }
inline double max(double a, double b) { return fmax(a, b); }

extern "C" const char* hyperlab_emu_error() { return emu::error; }

/** Runs kernel (from hyperlab_emu_kernel) over the grid; 0 on success, 1 with hyperlab_emu_error() set. */
extern "C" int hyperlab_emu_launch(void* kernel, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                                   unsigned bz, unsigned sharedBytes, void** args) {
    unsigned threads = bx * by * bz;
    if (threads == 0 || threads > 1024) {
        snprintf(emu::error, sizeof emu::error, "emulator: %u threads per block (1 to 1024 allowed)", threads);
        return 1;
    }
    while (emu::stacks.size() < threads) emu::stacks.push_back(static_cast<char*>(malloc(emu::STACK)));
    if (emu::fibers.size() < threads) {
        size_t old = emu::fibers.size();
        emu::fibers.resize(threads);     // jmp_bufs move: a parked fiber's own frame does not point at them
        for (size_t t = old; t < threads; t++) emu::fibers[t].started = false;
    }
    emu::blockThreads = (int)threads;
    emu::dynamicShared.assign(sharedBytes + 16, 0xff);   // NaN-filled, as real shared memory starts undefined
    emu::entry = reinterpret_cast<emu::Kernel*>(kernel)->run;
    emu::entryArgs = args;
    gridDim = {gx, gy, gz};
    blockDim = {bx, by, bz};
    for (unsigned z = 0; z < gz; z++)
        for (unsigned y = 0; y < gy; y++)
            for (unsigned x = 0; x < gx; x++) {
                blockIdx = {x, y, z};
                if (!emu::runBlock(threads)) return 1;
            }
    return 0;
}
