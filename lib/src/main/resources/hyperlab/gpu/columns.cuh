// Column sums of a [N, M] matrix that a kernel reads (or makes) row by row: bias gradients, summed in the pass that
// produces or reads the values anyway. Internal linkage: the CPU emulator loads several modules into one process.
namespace {

// dbias[j] += sum_i rows(i, j) (dbias null: op runs for its stores alone), rows a [N, M] matrix read V columns at a
// time by op(offset, values). Block (32, 8): thread x owns V adjacent columns of a 32·V-column tile (block x), so a
// warp reads 32·V consecutive values of a row; the 8 thread rows and the row chunks (block y) stride the rows. Shared
// partials, then one atomic per column and chunk.
template <int V, typename Op>
__device__ void column_sums(float* dbias, int N, int M, const Op& op) {
    __shared__ float part[8][32 * V + 1];
    int j0 = (blockIdx.x * 32 + threadIdx.x) * V;
    float acc[V];
#pragma unroll
    for (int j = 0; j < V; j++) acc[j] = 0.f;
    if (j0 < M)
        for (int i = blockIdx.y * blockDim.y + threadIdx.y; i < N; i += gridDim.y * blockDim.y) {
            float a[V];
            op((long)i * M + j0, a);
#pragma unroll
            for (int j = 0; j < V; j++) acc[j] += a[j];
        }
#pragma unroll
    for (int j = 0; j < V; j++) part[threadIdx.y][threadIdx.x * V + j] = acc[j];
    __syncthreads();
    if (threadIdx.y == 0 && j0 < M && dbias != nullptr) {
#pragma unroll
        for (int j = 0; j < V; j++) {
            float s = 0.f;
            for (int y = 0; y < 8; y++) s += part[y][threadIdx.x * V + j];
            atomicAdd(&dbias[j0 + j], s);
        }
    }
}

// The values of dout as they are: a bias gradient.
template <typename T, int V>
struct Values {
    const T* dout;
    __device__ void operator()(long off, float (&a)[V]) const { loadv<V>(dout + off, a); }
};

}  // namespace
