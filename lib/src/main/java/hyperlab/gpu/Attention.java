package hyperlab.gpu;

import hyperlab.cuda.CudaFunction;
import hyperlab.cuda.CudaModule;
import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.cuda.Dim3;
import hyperlab.cuda.Gpu;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Causal multi-head self-attention on the GPU, flash style (online softmax over key tiles, no T×T matrix in memory),
 * matching {@link hyperlab.nn.CausalSelfAttention}: {@code qkv} is the c_attn output, row-major [B, T, 3C] with
 * q = [:, :, 0:C], k = [C:2C], v = [2C:3C]; head h uses columns h·d..(h+1)·d of each (d = C / heads); scores are
 * scaled by 1/√d; {@code y} is [B, T, C] in the same head-interleaved layout (ready for c_proj). The forward keeps
 * each row's logsumexp ({@code lse}, F32 [B, heads, T]) and the backward recomputes the probabilities from it.
 * <p>
 * F32: fp32 SIMT kernels, any d ≤ 128. BF16: bf16 in and out with fp32 accumulation, on tensor cores (mma.sync
 * m16n8k16) when d is a multiple of 16, else the SIMT kernels. The tensor-core backward is one pass that sums dQ
 * with fp32 atomics (FlashAttention-2's), so dQ's last bits vary from run to run. {@code qkv}, {@code y}, {@code dy} and {@code dqkv}
 * have the attention's dtype; only their element counts are checked, so [B·T, 3C] views serve as well.
 * Kernels live in {@code hyperlab/gpu/attention.cu}, compiled once per GPU and head size.
 */
public final class Attention implements AutoCloseable {
    public static final int MAX_HEAD_DIM = 128;
    private static final Map<String, CudaModule> MODULES = new ConcurrentHashMap<>();

    private final Gpu gpu;
    private final int heads, headDim;
    private final ForwardTiling forwardTiling;
    private final BackwardTiling tiling;
    private final DType dtype;
    private final boolean tensorCores;
    private final CudaFunction fwd, delta, dkdv, dq, bwd, dqStore, biasSums;
    private final int bwdThreads, bwdShared;
    private DeviceArena scratch;
    private DeviceTensor deltaBuf, dqAcc;

    /** Tensor cores whenever they apply (BF16 and d a multiple of 16). */
    public Attention(Gpu gpu, int heads, int headDim, DType dtype) {
        this(gpu, heads, headDim, dtype, dtype == DType.BF16 && headDim % 16 == 0);
    }

    /** {@code tensorCores} false forces the SIMT kernels (a reference for the BF16 tensor-core path). */
    public Attention(Gpu gpu, int heads, int headDim, DType dtype, boolean tensorCores) {
        this(gpu, heads, headDim, dtype, tensorCores, ForwardTiling.of(headDim), BackwardTiling.of(headDim));
    }

    /**
     * How the tensor-core forward is cut: queries per warp (16, or 32 for d ≤ 64: each K and V fragment read from shared
     * memory then serves two m16 tiles), keys per tile (32, or 64 for d ≤ 64: two stages of K and V fit 48 KB) and the
     * blocks per SM its registers are limited for (__launch_bounds__). A block is 4 warps.
     */
    record ForwardTiling(int warpRows, int keys, int blocksPerSm) {
        ForwardTiling {
            if (warpRows != 16 && warpRows != 32) throw new IllegalArgumentException("the forward takes 16 or 32 queries per warp, not " + warpRows);
            if (keys != 32 && keys != 64) throw new IllegalArgumentException("the forward takes 32 or 64 keys per tile, not " + keys);
            if (blocksPerSm < 1 || blocksPerSm > 4)
                throw new IllegalArgumentException("blocks per SM must be in 1..4, got " + blocksPerSm);
        }

        /**
         * The engine's choice for head size d: at d = 64 (H100, preset M, data/bench/attention-h100-5bd03a5.json)
         * 16x64x4 ran the forward in 0.152 ms a layer, 16x64x3 in 0.154 and 32x64x2 in 0.169 (two blocks an SM).
         */
        static ForwardTiling of(int headDim) {
            String p = System.getProperty("hyperlab.attention.forward");   // e.g. 32x64x2: a tiling to time in the engine
            if (p != null) return parse(p);
            return headDim <= 64 ? new ForwardTiling(16, 64, 4) : new ForwardTiling(16, 32, 1);
        }

        /** "32x64x2": 32 queries per warp, 64 keys per tile, 2 blocks per SM. */
        static ForwardTiling parse(String s) {
            String[] p = s.split("x");
            if (p.length != 3) throw new IllegalArgumentException("a forward tiling is ROWSxKEYSxBLOCKS, e.g. 32x64x2; got " + s);
            return new ForwardTiling(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()), Integer.parseInt(p[2].trim()));
        }

        /** Queries per block. */
        int blockRows() {
            return 4 * warpRows;
        }

        @Override
        public String toString() {
            return warpRows + "x" + keys + "x" + blocksPerSm;
        }
    }

    /**
     * How the tensor-core backward is cut: keys per block (64 or 128), the blocks per SM its registers are limited for
     * (__launch_bounds__) and keys per warp (16, or 32 for d ≤ 64: each Q and dO fragment read from shared memory then
     * serves two m16 tiles of keys, whose K and V fragments come from shared memory instead of registers).
     */
    record BackwardTiling(int keys, int blocksPerSm, int warpKeys) {
        BackwardTiling {
            if (keys != 64 && keys != 128) throw new IllegalArgumentException("the backward takes 64 or 128 keys per block, not " + keys);
            if (blocksPerSm < 1 || blocksPerSm > 4)
                throw new IllegalArgumentException("blocks per SM must be in 1..4, got " + blocksPerSm);
            if (warpKeys != 16 && warpKeys != 32) throw new IllegalArgumentException("the backward takes 16 or 32 keys per warp, not " + warpKeys);
        }

        /** 16 keys per warp. */
        BackwardTiling(int keys, int blocksPerSm) {
            this(keys, blocksPerSm, 16);
        }

        /**
         * The engine's choice for head size d: at d = 64 (H100, preset M, data/bench/attention-h100-5bd03a5.json)
         * 128x2x32 ran the backward in 0.473 ms a layer against 0.492 for 64x3 and 0.512 for 64x2x32 (means over forward tilings).
         */
        static BackwardTiling of(int headDim) {
            String p = System.getProperty("hyperlab.attention.backward");   // e.g. 64x3: a tiling to time in the engine
            if (p != null) return parse(p);
            return headDim <= 64 ? new BackwardTiling(128, 2, 32) : new BackwardTiling(64, 1);
        }

        /** "64x3": 64 keys per block, 3 blocks per SM (16 keys per warp); "128x2x32": 32 keys per warp. */
        static BackwardTiling parse(String s) {
            String[] p = s.split("x");
            if (p.length != 2 && p.length != 3)
                throw new IllegalArgumentException("a backward tiling is KEYSxBLOCKS[xWARPKEYS], e.g. 64x3 or 128x2x32; got " + s);
            return new BackwardTiling(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()),
                    p.length == 3 ? Integer.parseInt(p[2].trim()) : 16);
        }

        @Override
        public String toString() {
            return keys + "x" + blocksPerSm + (warpKeys == 16 ? "" : "x" + warpKeys);
        }
    }

    /** tiling: the tensor-core backward's (AttentionBench compares them); the forward's is the engine's. */
    Attention(Gpu gpu, int heads, int headDim, DType dtype, boolean tensorCores, BackwardTiling tiling) {
        this(gpu, heads, headDim, dtype, tensorCores, ForwardTiling.of(headDim), tiling);
    }

    /** The tensor-core kernels' tilings (AttentionBench compares them). */
    Attention(Gpu gpu, int heads, int headDim, DType dtype, boolean tensorCores, ForwardTiling forwardTiling, BackwardTiling tiling) {
        if (heads < 1) throw new IllegalArgumentException("heads must be >= 1, got " + heads);
        if (headDim < 1 || headDim > MAX_HEAD_DIM)
            throw new IllegalArgumentException("head size d must be in 1.." + MAX_HEAD_DIM + ", got " + headDim);
        if (dtype != DType.F32 && dtype != DType.BF16)
            throw new IllegalArgumentException("attention supports F32 and BF16 tensors, not " + dtype);
        if (tensorCores && (dtype != DType.BF16 || headDim % 16 != 0))
            throw new IllegalArgumentException("the tensor-core kernels need BF16 and a head size that is a multiple of 16 (got "
                    + dtype + ", d = " + headDim + ")");
        if (tiling.warpKeys() > 16 && headDim > 64)
            throw new IllegalArgumentException("32 keys per backward warp need d <= 64 (their accumulators exceed the registers), got d = " + headDim);
        if (forwardTiling.keys() > 32 && headDim > 64)
            throw new IllegalArgumentException("64 keys per forward tile need d <= 64 (two stages exceed 48 KB), got d = " + headDim);
        if (forwardTiling.warpRows() > 16 && headDim > 64)
            throw new IllegalArgumentException("32 queries per forward warp need d <= 64 (their registers spill), got d = " + headDim);
        if (gpu == null) throw new IllegalArgumentException("gpu is null");
        this.gpu = gpu;
        this.tiling = tiling;
        this.forwardTiling = forwardTiling;
        this.heads = heads;
        this.headDim = headDim;
        this.dtype = dtype;
        this.tensorCores = tensorCores;
        String device = gpu.emulated() ? "emu" : "gpu" + gpu.info().ordinal();
        CudaModule m = MODULES.computeIfAbsent(device + "/d" + headDim + "/" + forwardTiling + "/" + tiling,
                k -> Kernels.withHeaders(gpu, "attention.cu", "-DHEAD_DIM=" + headDim, "-DATTN_BWD_KEYS=" + tiling.keys(),
                        "-DATTN_BWD_MIN_BLOCKS=" + tiling.blocksPerSm(), "-DATTN_BWD_WARP_KEYS=" + tiling.warpKeys(), "-DATTN_FWD_WARP_ROWS=" + forwardTiling.warpRows(),
                        "-DATTN_FWD_KEYS=" + forwardTiling.keys(), "-DATTN_FWD_MIN_BLOCKS=" + forwardTiling.blocksPerSm()));
        String t = dtype == DType.F32 ? "f32" : "bf16";
        String kind = tensorCores ? "tc" : "simt";
        fwd = m.function("attn_fwd_" + kind + "_" + t);
        delta = m.function("attn_delta_" + (tensorCores ? "tc_" : "") + t);
        dkdv = tensorCores ? null : m.function("attn_dkdv_simt_" + t);
        dq = tensorCores ? null : m.function("attn_dq_simt_" + t);
        bwd = tensorCores ? m.function("attn_bwd_tc_bf16") : null;
        if (tensorCores) {   // the backward's block and shared memory, as the module cuts them (past 48 KB it must opt in)
            int[] v = Kernels.launchShape(gpu, m, "attn_bwd_shape", 2);
            bwdThreads = v[0];
            bwdShared = v[1];
            bwd.allowSharedMemory(bwdShared);
        } else {
            bwdThreads = bwdShared = 0;
        }
        dqStore = tensorCores ? m.function("attn_dq_store_bf16") : null;
        biasSums = tensorCores ? null : MODULES.computeIfAbsent(device + "/gelu",
                k -> Kernels.withHeaders(gpu, "gelu.cu")).function(dtype == DType.F32 ? "bias_backward" : "bias_backward_bf16");
    }

    public int heads() {
        return heads;
    }

    public int headDim() {
        return headDim;
    }

    public DType dtype() {
        return dtype;
    }

    /** Whether the tensor-core (mma.sync) kernels run. */
    public boolean tensorCores() {
        return tensorCores;
    }

    /** How the tensor-core backward is cut. */
    BackwardTiling backwardTiling() {
        return tiling;
    }

    /** How the tensor-core forward is cut. */
    ForwardTiling forwardTiling() {
        return forwardTiling;
    }

    /** y = softmax(q·kᵀ/√d + causal mask)·v per head; lse[b, h, t] = the row's logsumexp (natural log). */
    public void forward(DeviceTensor qkv, DeviceTensor y, DeviceTensor lse, int batch, int time) {
        checkDims(batch, time);
        check("qkv", qkv, dtype, 3L * batch * time * width(), "[B, T, 3C] = " + shape(batch, time, 3 * width()));
        check("y", y, dtype, (long) batch * time * width(), "[B, T, C] = " + shape(batch, time, width()));
        check("lse", lse, DType.F32, (long) batch * heads * time, "[B, heads, T] = " + shape(batch, heads, time));
        float scale = (float) (1.0 / Math.sqrt(headDim));
        if (tensorCores) {
            int rows = forwardTiling.blockRows();
            fwd.launch(Dim3.of((time + rows - 1) / rows, batch * heads), Dim3.of(128), 0, qkv, y, lse, heads, time,
                    (float) (scale / Math.log(2)));
        } else {
            fwd.launch(Dim3.of(blocks(time), batch * heads), Dim3.of(64), 0, qkv, y, lse, heads, time, scale);
        }
    }

    /**
     * Gradients of q, k and v into {@code dqkv} (overwritten; layout of qkv) from dy = ∂L/∂y, given the forward's
     * qkv, y and lse.
     */
    public void backward(DeviceTensor dy, DeviceTensor qkv, DeviceTensor y, DeviceTensor lse, DeviceTensor dqkv, int batch, int time) {
        backward(dy, qkv, y, lse, dqkv, null, batch, time);
    }

    /**
     * As above, and adds the column sums of dqkv as stored ([B·T, 3C] summed over tokens: the gradient of the bias of
     * the layer that made qkv) into {@code dbias} (F32 [3C], or null for none), in the passes that write dqkv.
     */
    public void backward(DeviceTensor dy, DeviceTensor qkv, DeviceTensor y, DeviceTensor lse, DeviceTensor dqkv, DeviceTensor dbias,
                         int batch, int time) {
        checkDims(batch, time);
        long rows = (long) batch * heads * time;
        check("dy", dy, dtype, (long) batch * time * width(), "[B, T, C] = " + shape(batch, time, width()));
        check("qkv", qkv, dtype, 3L * batch * time * width(), "[B, T, 3C] = " + shape(batch, time, 3 * width()));
        check("y", y, dtype, (long) batch * time * width(), "[B, T, C] = " + shape(batch, time, width()));
        check("lse", lse, DType.F32, rows, "[B, heads, T] = " + shape(batch, heads, time));
        check("dqkv", dqkv, dtype, 3L * batch * time * width(), "[B, T, 3C] = " + shape(batch, time, 3 * width()));
        if (dqkv.address() == qkv.address()) throw new IllegalArgumentException("dqkv must not alias qkv");
        if (dbias != null) check("dbias", dbias, DType.F32, 3L * width(), "[3C] = [" + 3 * width() + "]");
        long tokens = (long) batch * time;
        ensureScratch(rows, tensorCores ? tokens * width() : 0);
        DeviceTensor d = deltaBuf;
        Dim3 grid = Dim3.of(blocks(time), batch * heads);
        float scale = (float) (1.0 / Math.sqrt(headDim));
        if (tensorCores) {
            float scaleLog2 = (float) (scale / Math.log(2));
            DeviceTensor acc = dqAcc.view(0, tokens * width());
            delta.launch(Dim3.cover(8 * rows, 256), Dim3.of(256), 0, dy, y, d, acc, heads, time, rows);   // zeroes acc too
            Dim3 keyBlocks = Dim3.of((time + tiling.keys() - 1) / tiling.keys(), batch * heads);
            Object bias = dbias != null ? dbias : (Object) 0L;      // a null pointer: no bias gradient
            bwd.launch(keyBlocks, Dim3.of(bwdThreads), bwdShared, qkv, dy, lse, d, acc, dqkv, bias, heads, time, scaleLog2, scale);
            dqStore.launch(Kernels.columnTiles((int) tokens, width(), 8), Dim3.of(32, 8), 0, acc, dqkv, bias, (int) tokens, width(), scale);
        } else {
            delta.launch(Dim3.cover(rows, 256), Dim3.of(256), 0, dy, y, d, heads, time, rows);
            dkdv.launch(grid, Dim3.of(64), 0, qkv, dy, lse, d, dqkv, heads, time, scale);
            dq.launch(grid, Dim3.of(64), 0, qkv, dy, lse, d, dqkv, heads, time, scale);
            if (dbias != null) {
                int cols = 3 * width(), v = Kernels.rowVector(cols, dqkv);
                biasSums.launch(Kernels.columnTiles((int) tokens, cols, v), Dim3.of(32, 8), 0, dbias, dqkv, (int) tokens, cols, v);
            }
        }
    }

    /** Causal forward FLOPs (the multiply-adds of q·kᵀ and p·v below the diagonal): 2·B·h·T²·d. */
    public static double forwardFlops(int batch, int heads, int time, int headDim) {
        return 2.0 * batch * heads * (double) time * time * headDim;
    }

    /** Device bytes of the backward's scratch buffers (0 before the first backward). */
    public long bytes() {
        return scratch == null ? 0 : scratch.bytes();
    }

    /** Frees the scratch buffers of the backward. */
    @Override
    public void close() {
        if (scratch != null) scratch.close();
        scratch = null;
        deltaBuf = null;
        dqAcc = null;
    }

    private int width() {
        return heads * headDim;
    }

    private static String shape(long a, long b, long c) {
        return "[" + a + ", " + b + ", " + c + "]";
    }

    private static int blocks(int time) {
        return (time + 63) / 64;
    }

    /** The backward's delta (F32 [rows]) and, for the tensor cores, its fp32 dQ accumulator (F32 [accumulator]). */
    private void ensureScratch(long rows, long accumulator) {
        if (deltaBuf != null && deltaBuf.elements() >= rows && (accumulator == 0 || dqAcc.elements() >= accumulator)) return;
        if (scratch != null) scratch.close();
        scratch = gpu.arena();
        deltaBuf = scratch.alloc(DType.F32, rows);
        dqAcc = scratch.alloc(DType.F32, Math.max(1, accumulator));
    }

    private void checkDims(int batch, int time) {
        if (batch < 1 || time < 1) throw new IllegalArgumentException("batch and time must be >= 1, got " + batch + " and " + time);
        if ((long) batch * heads > 65535)
            throw new IllegalArgumentException("batch * heads = " + (long) batch * heads + " exceeds the grid limit 65535");
        if (3L * batch * time * width() > Integer.MAX_VALUE * 4L)
            throw new IllegalArgumentException("qkv of " + 3L * batch * time * width() + " elements is too large");
    }

    private void check(String name, DeviceTensor t, DType want, long elements, String shape) {
        if (t == null) throw new IllegalArgumentException(name + " is null");
        if (t.dtype() != want)
            throw new IllegalArgumentException(name + " must be " + want + (name.equals("lse") ? " (the logsumexp is always F32)"
                    : " like this attention") + ", got " + t.dtype());
        if (t.elements() != elements)
            throw new IllegalArgumentException(name + " must be " + shape + " = " + elements + " elements, got " + t);
        if (t.gpu() != gpu) throw new IllegalArgumentException(name + " lives on another GPU than this attention");
        if (tensorCores && !name.equals("lse") && t.address() % 16 != 0)
            throw new IllegalArgumentException(name + " must be 16-byte aligned for the tensor-core kernels");
    }
}
