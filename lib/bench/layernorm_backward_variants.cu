// Variants of the LayerNorm backward that keeps rows in registers at the shape and arguments RC's engine gives it at
// preset M: bf16 dout, fp32 x, 16384 rows of C = 768 (K = LN_BWD_K = 6 chunks a lane), dx accumulated (it holds the
// residual's gradient) and also written rounded to bf16 (dxlo), dgamma, dbeta and dsum (the column sums of dx) added by
// atomics; 8-warp blocks with 73,728 B of dynamic shared memory. v0 is the library's kernel (layernorm.cu is included
// as the engine compiles it, after bf16.cuh and layernorm.cuh: layernorm_backward_regs_k_acc_dbf16's template, dx
// loaded with the row, two blocks an SM, one wave, as Kernels.layerNormBackward launches it); "49c51ab" is the kernel before it (dx loaded after
// the row's warp sums, one atomic a column at the block's end, two waves of three blocks an SM), and the others what
// was tried on the way. Every variant is checked against v0, then timed with CUDA events over 200 launches after 20
// warm-up ones; TB/s counts the 16 bytes an element must move (dout 2, x 4, dx read 4 and written 4, dxlo 2).
// Standalone, for the device machine, which has nvcc but no Java:
//   nvcc -arch=sm_90 -O3 -std=c++17 -I lib/src/main/resources/hyperlab/gpu -o lnbench lib/bench/layernorm_backward_variants.cu
//   ./lnbench [a,b]   (only the variants whose names contain a or b, and v0)
// Add -Xptxas -v for ptxas's registers and spills; each line also gives the runtime's registers and local memory a thread.
// Output: a line a variant, then a line "JSON" and every result as one JSON object (for data/bench/). Errors are vs v0's
// outputs of one launch from the same inputs: max |a - b|, max |a - b| / |b| and how many elements differ in their bits;
// dgamma, dbeta and dsum are sums of the blocks' atomics in whatever order they land, so they differ in their last bits
// from run to run (v0 again shows how much); dx differs in its last bit between v0 and the variants that load dx after
// the sums (the compiler contracts the same sum into other FMAs).
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cmath>
#include <vector>
#include <cuda_runtime.h>
#include "variants.h"   // lib/bench
#include "bf16.cuh"   // lib/src/main/resources/hyperlab/gpu
#include "layernorm.cuh"
#include "layernorm.cu"

#define BWD_ARGS LN_BWD_REGS_ARGS(bf16_t, float), int acc
#define BWD_PASS dx, dxlo, dgamma, dbeta, dsum, dout, x, gamma, mean, rstd, N, C, acc

__device__ __forceinline__ void prefetch_l2(const void* p) { asm volatile("prefetch.global.L2 [%0];" ::"l"(p)); }

// 49c51ab's layernorm_backward_regs for bf16 dout and fp32 x, its block's end adding V columns a thread (V = 4: the
// library's now, red4), and optionally:
// PF, the L2 prefetch of this lane's chunks of the dx row at the row's start (its accumulate read comes only after the
// row's warp sums, with its DRAM latency exposed); PFNEXT, that of the next row this warp takes: its x, dout and dx.
template <int K, int V, bool PF, bool PFNEXT>
__device__ void backward_red4(BWD_ARGS) {
    extern __shared__ float sh[];
    int warps = blockDim.x / 32, w = threadIdx.x / 32, lane = threadIdx.x % 32;
    const Slices sl = warp_slices(sh, dsum, warps, w, lane, C);
    float *sg = sl.g, *sb = sl.b, *sd = sl.s;
    for (int row = blockIdx.x * warps + w; row < N; row += gridDim.x * warps) {
        if constexpr (PF) {
            if (acc)
#pragma unroll
                for (int k = 0; k < K; k++)
                    if ((k * 32 + lane) * 4 < C) prefetch_l2(dx + (long)row * C + (k * 32 + lane) * 4);
        }
        if constexpr (PFNEXT) {
            long next = row + (long)gridDim.x * warps;
            if (next < N)
#pragma unroll
                for (int k = 0; k < K; k++) {
                    int c = (k * 32 + lane) * 4;
                    if (c < C) {
                        prefetch_l2(x + next * C + c);
                        prefetch_l2(dout + next * C + c);
                        if (acc) prefetch_l2(dx + next * C + c);
                    }
                }
        }
        const float* xr = x + (long)row * C;
        const bf16_t* dr = dout + (long)row * C;
        float m = mean[row], r = rstd[row];
        float xh[K][4], dv[K][4];
        float a = 0.f, b = 0.f;
#pragma unroll
        for (int k = 0; k < K; k++) {
            int c = (k * 32 + lane) * 4;
            if (c < C) {
                float gv[4];
                loadv<4>(xr + c, xh[k]);
                loadv<4>(dr + c, dv[k]);
                loadv<4>(gamma + c, gv);
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    xh[k][j] = (xh[k][j] - m) * r;
                    float g = dv[k][j] * gv[j];
                    a += g;
                    b += g * xh[k][j];
                }
            }
        }
        a = warp_sum(a) / C;
        b = warp_sum(b) / C;
        float* o = dx ? dx + (long)row * C : nullptr;
#pragma unroll
        for (int k = 0; k < K; k++) {
            int c = (k * 32 + lane) * 4;
            if (c < C) {
                float gv[4], ov[4];
                loadv<4>(gamma + c, gv);
                if (acc) loadv<4>(o + c, ov);
                float gx[4];
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    float d = r * (dv[k][j] * gv[j] - a - xh[k][j] * b);
                    ov[j] = acc ? ov[j] + d : d;
                    gx[j] = dv[k][j] * xh[k][j];
                }
                add4(sg + c, gx);
                add4(sb + c, dv[k]);
                if (dx) storev<4>(o + c, ov);
                if (dxlo) storev<4>(dxlo + (long)row * C + c, ov);
                if (sd) add4(sd + c, ov);
            }
        }
    }
    add_warp_slices<V>(dgamma, dbeta, dsum, sh, warps, C);
}

// the library's accumulating kernel (layernorm_backward_regs_k_acc_dbf16) with the harness's signature
__global__ __launch_bounds__(256, 2) void ln_bwd_library(BWD_ARGS) { LN_BWD_REGS_BODY(bf16_t, float, true); }
__global__ __launch_bounds__(256, 3) void ln_bwd_49c51ab(BWD_ARGS) { backward_red4<LN_BWD_K, 1, false, false>(BWD_PASS); }
__global__ __launch_bounds__(256, 3) void ln_bwd_red4(BWD_ARGS) { backward_red4<LN_BWD_K, 4, false, false>(BWD_PASS); }
__global__ __launch_bounds__(256, 3) void ln_bwd_red4_pf(BWD_ARGS) { backward_red4<LN_BWD_K, 4, true, false>(BWD_PASS); }
__global__ __launch_bounds__(256, 3) void ln_bwd_red4_pfnext(BWD_ARGS) { backward_red4<LN_BWD_K, 4, false, true>(BWD_PASS); }

const int N = 16384, C = 768, WARPS = 8, THREADS = 32 * WARPS, SMEM = WARPS * 3 * C * 4;
const int WARMUP = 20, REPS = 200;
const double BYTES = 16.0 * N * C;
bf16_t *d_dout, *d_dxlo; float *d_x, *d_gamma, *d_mean, *d_rstd, *d_dx, *d_dx_pristine, *d_dgamma, *d_dbeta, *d_dsum;

template <typename T>
__global__ void fill(T* p, long count, unsigned seed, float scale, float offset) {
    for (long i = blockIdx.x * (long)blockDim.x + threadIdx.x; i < count; i += (long)gridDim.x * blockDim.x) {
        unsigned h = (unsigned)i * 2654435761u ^ seed; h ^= h >> 13; h *= 0x5bd1e995u; h ^= h >> 15;
        store(p + i, offset + scale * ((h & 0xffffff) / 16777216.f - 0.5f));
    }
}

// the forward's mean and rstd of x's rows (eps 1e-5), in double: one thread a row
__global__ void row_stats(float* mean, float* rstd, const float* x, int n, int c, double eps) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const float* r = x + (long)i * c;
    double s = 0, v = 0;
    for (int j = 0; j < c; j++) s += r[j];
    double m = s / c;
    for (int j = 0; j < c; j++) v += (r[j] - m) * (r[j] - m);
    mean[i] = (float)m;
    rstd[i] = (float)(1.0 / sqrt(v / c + eps));
}

typedef void (*Kernel)(BWD_ARGS);
struct Err { double max_abs = 0, max_rel = 0; long differing = 0; };
struct Result { std::string name, kernel; int grid, blocks_per_sm, regs, local_bytes; double mean_ms, tbs; Err err[5]; };
const char* OUTPUTS[5] = {"dx", "dxlo", "dgamma", "dbeta", "dsum"};
std::vector<float> ref[5];   // v0's outputs (dxlo widened to float)
std::vector<Result> results;

Err compare(const std::vector<float>& got, const std::vector<float>& want) {
    Err e;
    for (size_t i = 0; i < got.size(); i++) {
        if (__builtin_bit_cast(unsigned, got[i]) == __builtin_bit_cast(unsigned, want[i])) continue;
        e.differing++;
        double d = fabs((double)got[i] - want[i]);
        if (std::isnan(d)) d = INFINITY;
        e.max_abs = fmax(e.max_abs, d);
        e.max_rel = fmax(e.max_rel, d / fmax(fabs((double)want[i]), 1e-30));
    }
    return e;
}

std::vector<float> fetch(const float* d, size_t n) {
    std::vector<float> h(n);
    CK(cudaMemcpy(h.data(), d, n * 4, cudaMemcpyDeviceToHost));
    return h;
}
std::vector<float> fetch(const bf16_t* d, size_t n) {
    std::vector<unsigned short> b(n);
    CK(cudaMemcpy(b.data(), d, n * 2, cudaMemcpyDeviceToHost));
    std::vector<float> h(n);
    for (size_t i = 0; i < n; i++) h[i] = __builtin_bit_cast(float, (unsigned)b[i] << 16);
    return h;
}


void launch(Kernel k, int grid) {
    k<<<grid, THREADS, SMEM>>>(d_dx, d_dxlo, d_dgamma, d_dbeta, d_dsum, d_dout, d_x, d_gamma, d_mean, d_rstd, N, C, 1);
}

void check_and_time(const char* name, const char* kernel, Kernel k, int grid) {
    if (!selected(name)) return;
    Result res{name, kernel, grid};
    CK(cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, SMEM));
    cudaFuncAttributes fa;
    CK(cudaFuncGetAttributes(&fa, k));
    res.regs = fa.numRegs;
    res.local_bytes = (int)fa.localSizeBytes;
    CK(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&res.blocks_per_sm, k, THREADS, SMEM));
    // one launch from pristine dx, zeroed column sums and dxlo of NaNs (0xffff), against v0's
    CK(cudaMemcpy(d_dx, d_dx_pristine, (size_t)N * C * 4, cudaMemcpyDeviceToDevice));
    CK(cudaMemset(d_dxlo, 0xff, (size_t)N * C * 2));
    CK(cudaMemset(d_dgamma, 0, C * 4)); CK(cudaMemset(d_dbeta, 0, C * 4)); CK(cudaMemset(d_dsum, 0, C * 4));
    launch(k, grid);
    CK(cudaGetLastError()); CK(cudaDeviceSynchronize());
    std::vector<float> out[5] = {fetch(d_dx, (size_t)N * C), fetch(d_dxlo, (size_t)N * C), fetch(d_dgamma, C),
                                 fetch(d_dbeta, C), fetch(d_dsum, C)};
    if (ref[0].empty()) for (int i = 0; i < 5; i++) ref[i] = out[i];
    for (int i = 0; i < 5; i++) res.err[i] = compare(out[i], ref[i]);
    // back-to-back launches (dx and the column sums keep accumulating: the same work each time)
    for (int i = 0; i < WARMUP; i++) launch(k, grid);
    cudaEvent_t e0, e1;
    CK(cudaEventCreate(&e0)); CK(cudaEventCreate(&e1));
    CK(cudaEventRecord(e0));
    for (int i = 0; i < REPS; i++) launch(k, grid);
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1)); CK(cudaGetLastError());
    float ms;
    CK(cudaEventElapsedTime(&ms, e0, e1));
    CK(cudaEventDestroy(e0)); CK(cudaEventDestroy(e1));
    res.mean_ms = ms / REPS;
    res.tbs = BYTES / (res.mean_ms * 1e-3) / 1e12;
    printf("%-22s grid %4d (%d/SM, %3d regs, %3d B local)  %7.4f ms  %5.3f TB/s ", name, grid, res.blocks_per_sm, res.regs,
           res.local_bytes, res.mean_ms, res.tbs);
    for (int i = 0; i < 5; i++)
        printf(" | %s abs %.2g rel %.2g (%ld differ)", OUTPUTS[i], res.err[i].max_abs, res.err[i].max_rel, res.err[i].differing);
    printf("\n");
    fflush(stdout);
    results.push_back(res);
}

int main(int argc, char** argv) {
    if (argc > 1) ONLY = argv[1];
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    int sms = prop.multiProcessorCount, driver;
    CK(cudaDriverGetVersion(&driver));
    size_t nc = (size_t)N * C;
    CK(cudaMalloc(&d_dout, nc * 2)); CK(cudaMalloc(&d_dxlo, nc * 2));
    CK(cudaMalloc(&d_x, nc * 4)); CK(cudaMalloc(&d_dx, nc * 4)); CK(cudaMalloc(&d_dx_pristine, nc * 4));
    CK(cudaMalloc(&d_gamma, C * 4)); CK(cudaMalloc(&d_dgamma, C * 4)); CK(cudaMalloc(&d_dbeta, C * 4)); CK(cudaMalloc(&d_dsum, C * 4));
    CK(cudaMalloc(&d_mean, N * 4)); CK(cudaMalloc(&d_rstd, N * 4));
    fill<<<1024, 256>>>(d_x, (long)nc, 11u, 4.f, 0.25f);            // x ~ U(-1.75, 2.25)
    fill<<<1024, 256>>>(d_dout, (long)nc, 22u, 2.f, 0.f);           // dout ~ U(-1, 1), rounded to bf16
    fill<<<1024, 256>>>(d_dx_pristine, (long)nc, 33u, 2.f, 0.f);    // the residual's gradient ~ U(-1, 1)
    fill<<<4, 256>>>(d_gamma, (long)C, 44u, 1.f, 1.f);              // gamma ~ U(0.5, 1.5)
    row_stats<<<(N + 255) / 256, 256>>>(d_mean, d_rstd, d_x, N, C, 1e-5);
    CK(cudaGetLastError()); CK(cudaDeviceSynchronize());

    int waves2 = std::min(2 * 3 * sms, (N + WARPS - 1) / WARPS);   // 49c51ab's grid: 792 on 132 SMs
    int rows8 = (N + WARPS - 1) / WARPS;                            // a block per 8 rows: 2048
    check_and_time("v0", "ln_bwd_library", ln_bwd_library, 2 * sms);
    check_and_time("v0 2 waves", "ln_bwd_library", ln_bwd_library, 2 * 2 * sms);
    check_and_time("v0 4 waves", "ln_bwd_library", ln_bwd_library, 4 * 2 * sms);
    check_and_time("v0 rows/8", "ln_bwd_library", ln_bwd_library, rows8);
    check_and_time("49c51ab", "ln_bwd_49c51ab", ln_bwd_49c51ab, waves2);
    check_and_time("red4", "ln_bwd_red4", ln_bwd_red4, waves2);
    check_and_time("red4+pf", "ln_bwd_red4_pf", ln_bwd_red4_pf, waves2);
    check_and_time("red4+pfnext", "ln_bwd_red4_pfnext", ln_bwd_red4_pfnext, waves2);
    check_and_time("red4+pf 1 wave", "ln_bwd_red4_pf", ln_bwd_red4_pf, 3 * sms);
    check_and_time("v0 again", "ln_bwd_library", ln_bwd_library, 2 * sms);

    printf("JSON\n{\"bench\": \"layernorm_backward_variants\", \"device\": \"%s\", \"sms\": %d, \"driver\": %d, \"nvcc\": \"%d.%d\",\n"
           " \"rows\": %d, \"width\": %d, \"K\": %d, \"threads\": %d, \"shared_bytes\": %d, \"acc\": 1, \"bytes_per_launch\": %.0f,\n"
           " \"warmup\": %d, \"reps\": %d, \"results\": [\n",
           prop.name, sms, driver, __CUDACC_VER_MAJOR__, __CUDACC_VER_MINOR__, N, C, LN_BWD_K, THREADS, SMEM, BYTES, WARMUP, REPS);
    for (size_t r = 0; r < results.size(); r++) {
        const Result& s = results[r];
        printf("  {\"variant\": \"%s\", \"kernel\": \"%s\", \"grid\": %d, \"blocks_per_sm\": %d, \"regs\": %d, \"local_bytes\": %d, "
               "\"mean_ms\": %.5f, \"tb_s\": %.4f, \"vs_v0\": {", s.name.c_str(), s.kernel.c_str(), s.grid, s.blocks_per_sm,
               s.regs, s.local_bytes, s.mean_ms, s.tbs);
        for (int i = 0; i < 5; i++)
            printf("%s\"%s\": {\"max_abs\": %.3g, \"max_rel\": %.3g, \"differing\": %ld}", i ? ", " : "", OUTPUTS[i],
                   s.err[i].max_abs, s.err[i].max_rel, s.err[i].differing);
        printf("}}%s\n", r + 1 < results.size() ? "," : "");
    }
    printf("]}\n");
    return 0;
}
