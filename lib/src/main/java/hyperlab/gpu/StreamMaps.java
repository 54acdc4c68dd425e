package hyperlab.gpu;

import hyperlab.cuda.CudaFunction;
import hyperlab.cuda.CudaModule;
import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.cuda.Dim3;
import hyperlab.cuda.Gpu;
import hyperlab.manifold.Permutations;
import hyperlab.nn.Paradigm;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.BiFunction;
import java.util.stream.Stream;

/**
 * The hyper-connection stream maps of one block on the GPU, forward and backward in fp32, computing what
 * {@link hyperlab.nn.ResidualMaps} (DJL) and {@link hyperlab.nn.ReferenceMaps} (float64) compute, with the same
 * parameter names and shapes ({@link hyperlab.nn.MapSpec}).
 * <p>Streams x and their gradients dOut, dx are row-major [N, n, C], stored F32 or BF16 (the constructor's
 * {@code streamType}: every pass over them moves half the bytes, all sums stay fp32), the sublayer's input h, its
 * gradient dh and output f [N, C] likewise; f's gradient df is F32 (or BF16 where only GEMMs read it). The forward is seed 001 §4.3's
 * fused form: r = 1/rms(vec x) per token, one GEMM u = vec(x)·Φ_cat [N, m] over all projections, then per
 * token (in the projection kernel where it is the fused one) applies r, α/τ/γ/b, σ/2σ/tanh, Sinkhorn, the permutation softmax or the Cayley transforms. The backward
 * recomputes those per-token maps from u and r. Parameter gradients over tokens are reduced in two deterministic
 * passes (no atomics). With bf16 streams the products with Φ_cat (the projection, and in the streams' backward
 * (r·dz)·Φ_catᵀ and vec(x)ᵀ·(r·dz)) run as bf16 tensor-core products with Φ_cat and r·dz split into two bf16 parts:
 * within ~2^-16 of fp32, not bit-equal to the fp32 kernels.
 * <p>Usage per block and step: {@code aggregate} (keeps the block's maps), the sublayer, {@code merge}; in the backward
 * {@code backwardMerge} then {@code backwardAggregate}, with the same x and params as that block's {@code aggregate}.
 * One instance per block keeps every block's maps; an instance shared by several blocks must call {@code aggregate}
 * again (recomputation) before that block's backward. A model of many blocks saves launches: each block's merge
 * computes the next block's maps ({@code merge} with next), and {@code backwardAggregateKeeping} leaves the parameter
 * gradients for one {@code addGradients} over all blocks. All work is queued on the GPU's stream.
 */
public final class StreamMaps implements AutoCloseable {
    /** Per-token maps of the last aggregate(): pre [N, n], post [N, n], res [N, n, n], row-major. */
    public record Maps(int tokens, int streams, float[] pre, float[] post, float[] res) {
    }

    /**
     * The parameter gradients of a backward, as partial sums: dΦ_cat's over {@code rows} rows of {@code dphi} [rows, D, M],
     * theta's over {@code chunks} rows of partSums [chunks, TH].
     */
    private record Pending(DeviceTensor dphi, int rows, int chunks) {
    }

    /** The streams and the very parameter map (compared by identity) whose maps a merge computed for this block. */
    private record Projected(DeviceTensor x, Map<String, DeviceTensor> params, int tokens) {
    }

    private static final String SOURCE = "streams.cu";   // in hyperlab/gpu
    private static final int RED_THREADS = 128;     // SM_RED_THREADS in streams.cu: sm_merge_backward's block, a warp per token
    private static final int MERGE_BIAS_TOKENS = 4; // tokens per warp of sm_merge_backward where it also sums the bias gradient
    private static final int SUM_CHUNKS = 64;       // row chunks of the first pass over per-token parameter gradients
    private static final int FUSE_MAX = 64, FUSE_COLUMNS = 64;   // SM_FUSE_MAX, SM_CB
    private static final int MMA_MAX = 32, MMA_TOKENS = 16;   // SM_MMA_MAX, and sm_stream_backward_mma's tokens per tile
    private static final int PACK_BLOCKS = 64;      // blocks per parameter of sm_pack / sm_unpack_add (grid-stride)
    private static final int DPHI_ROWS = 64;        // most block rows of sm_stream_backward* (dΦ_cat's partial sums); at
                                                    // least two rows and two token tiles per row, so short inputs test both
    private static final Map<List<Object>, CudaModule> MODULES = new ConcurrentHashMap<>();   // (gpu, options) -> module
    private static final Map<CudaModule, LaunchShape> SHAPES = new ConcurrentHashMap<>();

    private final Gpu gpu;
    private final Paradigm paradigm;
    private final int n, c, d, m, th, maxTokens;
    private final DType xType;                       // the streams as stored: F32 or BF16
    private final StreamMapsLayout layout;
    private final DeviceArena arena;
    private final DeviceTensor phiCat, dPhiCat, theta, perms, r, u, pre, post, res, dpost, dres, dzr, coef,
            part, partSums;
    // bf16 streams: Φ_cat split into bf16 high parts and remainders [d][2][m rounded up to 8] (sm_pack writes it with
    // Φ_cat), the projections' B operand with no conversions in their loop; null where the streams are fp32
    private final DeviceTensor phiSplit;
    // where the streams' backward may run on tensor cores: r·dz split the same way [tokens][2][m in whole k16 steps]
    // (sm_dots_maps_backward writes it for sm_stream_backward_mma's fragments); null otherwise
    private final DeviceTensor dzSplit;
    private final SlotTable packTable = new SlotTable(), gradTable = new SlotTable();   // for sm_pack / sm_grads_add
    private Map<String, DeviceTensor> packedFrom;   // the params pack(List, List) packed for this block's next forward
    private Pending pendingGrads;                   // where the last backward's parameter gradients wait as partial sums
    private final CudaFunction rms, packKernel, gradsAdd, sumRows, mapsFwd, dotsMapsBwd, agg, aggLn, merge, mergeBwd, mergeBwdBf16, streamBwd,
            streamBwdDphi, streamBwdMma, project, mergeProject;
    private final int bwdTokens, bwdWave;           // sm_stream_backward*: tokens per tile, blocks in one wave on this GPU
    private final int mapsLanes;                    // threads per token of sm_maps_forward
    private final int projectTokens, dotsMapsTokens;   // tokens a block of sm_project (4 threads each), sm_dots_maps_backward (128)
    private final boolean mmaBackward;              // bf16 streams of a shape sm_stream_backward_mma takes (aligned tensors given)
    private final int streamBwdShared, streamBwdDphiShared, streamBwdMmaShared, projectShared, mergeProjectShared;   // dynamic shared
                                                                                                            // memory (bytes)
    private final CudaModule module;                // this configuration's kernels (a merge may project for a block of the same)
    private Projected projectedFor;                 // what the previous block's merge projected into this block's maps
    private int lastTokens = -1;
    private Map<String, Float> timings;          // non-null: every step is timed on the GPU (profiling only)
    private boolean fusedProjection = Boolean.parseBoolean(System.getProperty("hyperlab.streammaps.fusedProjection", "true"));
    // sm_merge_project measured slower than the merge and the next block's own projections on the H100 (0.266 against
    // 0.192 ms per block, HC dynamic, bf16 streams, preset M): off unless -Dhyperlab.streammaps.mergeProject=true
    private boolean mergeProjecting = Boolean.getBoolean("hyperlab.streammaps.mergeProject");

    /**
     * @param sinkhornIterations mHC's t_max (20 in the paper); ignored by the other paradigms
     * @param logDomain          mHC: Sinkhorn on log-values (finite for large logits); same fixed point
     * @param maxTokens          the most tokens N = B·T a call may pass (sizes the scratch buffers)
     */
    public StreamMaps(Gpu gpu, Paradigm p, int streams, int width, boolean dynamic, int sinkhornIterations,
                      boolean logDomain, int maxTokens) {
        this(gpu, p, streams, width, dynamic, sinkhornIterations, logDomain, maxTokens, DType.F32);
    }

    /**
     * As above, with the streams x and their gradients stored as {@code streamType}: F32, or BF16 where {@link #bf16StreamsSupported} (the
     * projections then always run in the fused kernels, which read bf16; cuBLASLt's fp32 GEMM path cannot).
     */
    public StreamMaps(Gpu gpu, Paradigm p, int streams, int width, boolean dynamic, int sinkhornIterations,
                      boolean logDomain, int maxTokens, DType streamType) {
        if (streamType != DType.F32 && streamType != DType.BF16)
            throw new IllegalArgumentException("streamType = " + streamType + ": F32 or BF16 is required");
        if (streamType == DType.BF16 && !bf16StreamsSupported(p, streams, width, dynamic))
            throw new IllegalArgumentException("bf16 streams need the fused projection kernels: at most " + FUSE_MAX
                    + " map columns (" + p.key() + " with n = " + streams + " has " + new StreamMapsLayout(p, streams, width, dynamic).columns()
                    + ") and n·C a multiple of 8 (" + streams * width + "); use fp32 streams");
        this.xType = streamType;
        if (p == Paradigm.MHC && sinkhornIterations < 1)
            throw new IllegalArgumentException("sinkhornIterations = " + sinkhornIterations + ": at least 1 is required (mHC uses 20)");
        if (maxTokens < 1) throw new IllegalArgumentException("maxTokens = " + maxTokens);
        this.layout = new StreamMapsLayout(p, streams, width, dynamic);
        this.gpu = gpu;
        this.paradigm = p;
        this.n = streams;
        this.c = width;
        this.d = streams * width;
        this.m = layout.columns();
        this.th = layout.thetaSize();
        this.maxTokens = maxTokens;
        CudaModule mod = module(gpu, p, streams, layout.dynamic(), p == Paradigm.MHC ? sinkhornIterations : 1,
                p == Paradigm.MHC && logDomain, streamType == DType.BF16);
        module = mod;
        rms = mod.function("sm_rms");
        packKernel = mod.function("sm_pack");
        gradsAdd = mod.function("sm_grads_add");
        sumRows = mod.function("sm_sum_rows");
        mapsFwd = mod.function("sm_maps_forward");
        dotsMapsBwd = mod.function("sm_dots_maps_backward");
        agg = mod.function("sm_aggregate");
        aggLn = mod.function("sm_aggregate_layernorm");
        merge = mod.function("sm_merge");
        mergeBwd = mod.function("sm_merge_backward");
        mergeBwdBf16 = mod.function("sm_merge_backward_bf16");
        streamBwd = mod.function("sm_stream_backward");
        streamBwdDphi = mod.function("sm_stream_backward_dphi");
        streamBwdMma = mod.function("sm_stream_backward_mma");
        project = mod.function("sm_project");
        mergeProject = mod.function("sm_merge_project");
        arena = gpu.arena();
        LaunchShape shape = SHAPES.computeIfAbsent(mod, k -> LaunchShape.of(gpu, mod));
        streamBwdShared = shape.streamBwdShared();
        streamBwdDphiShared = shape.streamBwdDphiShared();
        streamBwdMmaShared = shape.streamBwdMmaShared();
        bwdTokens = shape.bwdTokens();
        projectShared = shape.projectShared();
        mergeProjectShared = shape.mergeProjectShared();
        bwdWave = shape.bwdBlocksPerSm() * Math.max(1, gpu.info().smCount());
        mapsLanes = shape.mapsLanes();
        projectTokens = shape.projectTokens();
        dotsMapsTokens = shape.dotsMapsTokens();
        mmaBackward = streamType == DType.BF16 && tensorCoreBackward(p, streams, width, layout.dynamic());
        int mm = Math.max(1, m);
        phiCat = arena.zeros(DType.F32, d, mm);
        phiSplit = streamType == DType.BF16 && m > 0 && m <= FUSE_MAX ? arena.zeros(DType.BF16, d, 2 * ((m + 7) / 8 * 8)) : null;
        dPhiCat = arena.zeros(DType.F32, d, mm);
        theta = arena.zeros(DType.F32, th);
        int[] table = new int[1];
        if (p == Paradigm.MHC_LITE) {
            List<int[]> all = Permutations.of(n);
            table = new int[all.size() * n];
            for (int k = 0; k < all.size(); k++) System.arraycopy(all.get(k), 0, table, k * n, n);
        }
        perms = arena.alloc(DType.I32, table.length).copyFrom(table);
        r = arena.zeros(DType.F32, maxTokens);
        u = arena.zeros(DType.F32, maxTokens, mm);
        pre = arena.zeros(DType.F32, maxTokens, n);
        post = arena.zeros(DType.F32, maxTokens, n);
        res = arena.zeros(DType.F32, maxTokens, n, n);
        dpost = arena.zeros(DType.F32, maxTokens, n);
        dres = arena.zeros(DType.F32, maxTokens, n, n);
        dzr = arena.zeros(DType.F32, maxTokens, mm);
        dzSplit = mmaBackward ? arena.zeros(DType.BF16, maxTokens, 2 * ((m + 15) / 16 * 16)) : null;
        coef = arena.zeros(DType.F32, maxTokens);
        part = arena.zeros(DType.F32, Math.max((long) maxTokens * th, m > 0 && m <= FUSE_MAX ? (long) DPHI_ROWS * d * m : 0));
        partSums = arena.zeros(DType.F32, SUM_CHUNKS, th);
    }

    /**
     * Whether bf16 streams of this configuration take the tensor-core streams' backward (sm_stream_backward_mma): Φ_cat of 1
     * to 32 columns and C a multiple of 8 (given aligned tensors); its products are within ~2^-16 of fp32 rather than equal.
     */
    static boolean tensorCoreBackward(Paradigm p, int streams, int width, boolean dynamic) {
        int columns = new StreamMapsLayout(p, streams, width, dynamic).columns();
        return bf16StreamsSupported(p, streams, width, dynamic) && columns > 0 && columns <= MMA_MAX && width % 8 == 0;
    }

    /** Whether this configuration can keep its streams in bf16: Φ_cat fits the fused kernels and n·C is a multiple of 8. */
    public static boolean bf16StreamsSupported(Paradigm p, int streams, int width, boolean dynamic) {
        return p != Paradigm.RC && new StreamMapsLayout(p, streams, width, dynamic).columns() <= FUSE_MAX && (streams * width) % 8 == 0;
    }

    private static CudaModule module(Gpu gpu, Paradigm p, int n, boolean dynamic, int iterations, boolean log, boolean bf16) {
        String[] base = {"-DSM_N=" + n, "-DSM_PARADIGM=" + switch (p) {
            case HC -> 0;
            case MHC -> 1;
            case MHC_LITE -> 2;
            case SHC -> 3;
            case RC -> throw new IllegalArgumentException("paradigm rc has no stream maps");
        }, "-DSM_DYN=" + (dynamic ? 1 : 0), "-DSM_ITERS=" + iterations, "-DSM_LOG=" + (log ? 1 : 0), "-DSM_XBF16=" + (bf16 ? 1 : 0)};
        // the kernels' tunables, for timing them without a rebuild: -Dhyperlab.streammaps.options="-DSM_PT=128 -DSM_DM_TOKENS=16"
        // (or comma-separated, for JAVA_TOOL_OPTIONS, which splits at spaces)
        String tuning = System.getProperty("hyperlab.streammaps.options", "").strip();
        String[] opts = tuning.isEmpty() ? base : Stream.concat(Arrays.stream(base), Arrays.stream(tuning.split("[\\s,]+"))).toArray(String[]::new);
        return MODULES.computeIfAbsent(List.of(gpu, String.join(" ", opts)), k -> Kernels.withHeaders(gpu, SOURCE, opts));
    }

    /**
     * How this build's kernels launch, as the module computes it (sm_launch_shape): the pipelined kernels' dynamic shared
     * memory (sm_merge_project's 0 where the build has none), the streams' backward's tokens per tile and blocks per SM,
     * the maps kernels' threads per token, the tokens a block of sm_project and of sm_dots_maps_backward.
     */
    private record LaunchShape(int streamBwdShared, int streamBwdDphiShared, int bwdTokens, int projectShared, int bwdBlocksPerSm,
                               int mapsLanes, int streamBwdMmaShared, int mergeProjectShared, int projectTokens,
                               int dotsMapsTokens) {
        /** Asks the module once, and allows each pipelined kernel its shared memory (past 48 KB a kernel must opt in). */
        static LaunchShape of(Gpu gpu, CudaModule mod) {
            int[] v = Kernels.launchShape(gpu, mod, "sm_launch_shape", 10);
            LaunchShape s = new LaunchShape(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9]);
            mod.function("sm_stream_backward").allowSharedMemory(s.streamBwdShared());
            mod.function("sm_stream_backward_dphi").allowSharedMemory(s.streamBwdDphiShared());
            mod.function("sm_stream_backward_mma").allowSharedMemory(s.streamBwdMmaShared());
            mod.function("sm_project").allowSharedMemory(s.projectShared());
            if (s.mergeProjectShared() > 0) mod.function("sm_merge_project").allowSharedMemory(s.mergeProjectShared());
            return s;
        }
    }

    /** Tokens a block of sm_project, as this build's module was compiled (SM_PT). */
    int projectTokens() {
        return projectTokens;
    }

    public StreamMapsLayout layout() {
        return layout;
    }

    /**
     * h = H_pre·x per token (h stored as the streams are); computes and keeps this block's per-token maps (and what the
     * backward needs), unless the previous block's {@link #merge(DeviceTensor, DeviceTensor, DeviceTensor, int, StreamMaps, Map)}
     * computed them already from this x and these params (the same map instance).
     */
    public void aggregate(DeviceTensor x, Map<String, DeviceTensor> params, DeviceTensor h, int tokens) {
        checkTokens(tokens);
        needStreams(x, tokens, "x");
        needRow(h, tokens, "h");
        mapsFor(x, params, tokens);
        int va = columnsPerAccess(x, h);
        step("fwd.aggregate", () -> agg.launch(Dim3.cover((long) tokens * (c / va), 256), Dim3.of(256), 0, x, pre, h, tokens, c, va));
        lastTokens = tokens;
    }

    /**
     * As {@link #aggregate}, and for bf16 streams (C a multiple of 4, at most 1,024, rows 8-byte aligned) also the
     * sublayer's LayerNorm of h, ln = (h - mean)·rstd·gamma + beta in bf16 with its mean and rstd (eps as the engine's), in
     * the same pass (sm_aggregate_layernorm: h is not read back; bit for bit the two kernels). Returns whether it did;
     * if not, the caller runs its LayerNorm on h itself.
     */
    boolean aggregateNormalized(DeviceTensor x, Map<String, DeviceTensor> params, DeviceTensor h, DeviceTensor ln, DeviceTensor mean,
                                DeviceTensor rstd, DeviceTensor gamma, DeviceTensor beta, int tokens) {
        if (xType != DType.BF16 || c % 4 != 0 || c > 1024 || ln.dtype() != DType.BF16 || Kernels.vector(4, x, h, ln, gamma, beta) != 4) {
            aggregate(x, params, h, tokens);
            return false;
        }
        checkTokens(tokens);
        needStreams(x, tokens, "x");
        needRow(h, tokens, "h");
        needRow(ln, tokens, "ln");
        need(mean, tokens, "mean");
        need(rstd, tokens, "rstd");
        need(gamma, c, "gamma");
        need(beta, c, "beta");
        mapsFor(x, params, tokens);
        step("fwd.aggregate_layernorm", () -> aggLn.launch(Dim3.cover(tokens, 8), Dim3.of(256), 0, x, pre, h, ln, mean, rstd, gamma, beta,
                tokens, c, Kernels.LN_EPS));
        lastTokens = tokens;
        return true;
    }

    /** This block's maps from x and params, unless the previous block's merge projected them already. */
    private void mapsFor(DeviceTensor x, Map<String, DeviceTensor> params, int tokens) {
        boolean projected = projectedFor != null && projectedFor.x() == x && projectedFor.params() == params && projectedFor.tokens() == tokens;
        projectedFor = null;
        if (!projected) mapsOf(x, params, tokens);
    }

    /** Packs params and computes this block's per-token maps from x (projections, RMS, maps). */
    private void mapsOf(DeviceTensor x, Map<String, DeviceTensor> params, int tokens) {
        packFor(params);
        boolean lo = xType == DType.BF16;
        if (lo && m > 0 && (Kernels.vector(8, x) != 8 || !fusedProjection))
            throw new IllegalArgumentException("bf16 streams x = " + x + " need the fused projection on 16-byte aligned rows");
        if (m > 0 && (lo || fusedProjection && m <= FUSE_MAX && d % 4 == 0 && Kernels.vector(4, x) == 4)) {
            // the projections and, from them, the maps
            step("fwd.project", () -> project.launch(Dim3.of((tokens + projectTokens - 1) / projectTokens), Dim3.of(4 * projectTokens), projectShared,
                    x, projected(), u, r, theta, perms, pre, post, res, tokens, d));
        } else {
            if (m > 0) {
                step("fwd.rms", () -> rms.launch(Dim3.cover((long) tokens * 32, 256), Dim3.of(256), 0, x, r, tokens, d));
                step("fwd.gemm", () -> gpu.matmul().run(x.view(0, tokens, d), false, phiCat, false, u.view(0, tokens, m), false));
            }
            step("fwd.maps", () -> mapsFwd.launch(Dim3.cover((long) tokens * mapsLanes, 64), Dim3.of(64), 0, u, r, theta, perms, pre, post, res, tokens));
        }
    }

    /** out = H_res·x + H_post^T ⊗ f per token (f = F(h) is [N, C], stored as the streams are); out must not alias x. */
    public void merge(DeviceTensor x, DeviceTensor f, DeviceTensor out, int tokens) {
        checkSame(tokens);
        needStreams(x, tokens, "x");
        needRow(f, tokens, "f");
        needStreams(out, tokens, "out");
        int v = columnsPerAccess(x, f, out);
        step("fwd.merge", () -> merge.launch(Dim3.cover((long) tokens * (c / v), 256), Dim3.of(256), 0, x, f, post, res, out, tokens, c, v));
    }

    /**
     * merge, and the next block's maps from out with its params (next's {@code aggregate(out, nextParams, ...)} then
     * skips them): for bf16 streams of the same configuration on 16-byte aligned rows, one kernel that projects out as
     * it writes it (sm_merge_project: the projections' pass over the streams saved); otherwise a plain merge, and the
     * next aggregate computes its maps itself. next may not be this instance (its maps are still this block's to use).
     */
    public void merge(DeviceTensor x, DeviceTensor f, DeviceTensor out, int tokens, StreamMaps next, Map<String, DeviceTensor> nextParams) {
        if (next == this) throw new IllegalArgumentException("next must be the next block's StreamMaps, not this block's");
        if (!mergesProjecting(next, x, f, out)) {
            merge(x, f, out, tokens);
            return;
        }
        checkSame(tokens);
        needStreams(x, tokens, "x");
        needRow(f, tokens, "f");
        needStreams(out, tokens, "out");
        next.checkTokens(tokens);
        next.packFor(nextParams);
        step("fwd.merge_project", () -> mergeProject.launch(Dim3.of((tokens + projectTokens - 1) / projectTokens), Dim3.of(4 * projectTokens),
                mergeProjectShared, x, f, post, res, out, next.projected(), next.u, next.r, next.theta, next.perms, next.pre, next.post,
                next.res, tokens, c));
        next.projectedFor = new Projected(out, nextParams, tokens);
    }

    /** Whether merge(x, f, out) can project for next in the same kernel (see merge with next). */
    private boolean mergesProjecting(StreamMaps next, DeviceTensor x, DeviceTensor f, DeviceTensor out) {
        return mergeProjecting && next != null && next.module == module && mergeProjectShared > 0 && fusedProjection && next.fusedProjection
                && next.gpu == gpu && xType == DType.BF16 && c % 8 == 0 && Kernels.vector(8, x, f, out) == 8;
    }

    /**
     * From dOut: df = Σ_i H_post,i dOut_i (overwrites df: F32, or BF16 rounded once, for a caller that needs df only as
     * a bf16 GEMM operand); keeps dH_res, dH_post for backwardAggregate, which also computes the streams' gradient
     * through the merge, H_resᵀ dOut.
     */
    public void backwardMerge(DeviceTensor dOut, DeviceTensor x, DeviceTensor f, DeviceTensor df, int tokens) {
        backwardMerge(dOut, x, f, df, null, tokens);
    }

    /**
     * The same, and where dbias (F32 [C]) is not null, the column sums of df (in fp32, before any rounding) added into
     * it: the bias gradient of the sublayer's output projection, so its weight-gradient GEMM needs no BGRADB epilogue.
     * The sums' order depends on the atomics' (dbias's last bits may move between runs; df, dres, dpost do not).
     */
    public void backwardMerge(DeviceTensor dOut, DeviceTensor x, DeviceTensor f, DeviceTensor df, DeviceTensor dbias, int tokens) {
        checkSame(tokens);
        needStreams(dOut, tokens, "dOut");
        needStreams(x, tokens, "x");
        needRow(f, tokens, "f");
        boolean lo = df.dtype() == DType.BF16;
        if (!lo) need(df, (long) tokens * c, "df");
        else if (df.elements() < (long) tokens * c)
            throw new IllegalArgumentException("df is " + df + ": at least " + (long) tokens * c + " elements are required");
        if (dbias != null) need(dbias, c, "dbias");
        int v = columnsPerAccess(dOut, x, f, df);
        CudaFunction kernel = lo ? mergeBwdBf16 : mergeBwd;
        // with dbias a warp walks MERGE_BIAS_TOKENS tokens, so the blocks' end-of-kernel atomics (C each) stay few
        int warps = RED_THREADS / 32, perBlock = warps * (dbias == null ? 1 : MERGE_BIAS_TOKENS);
        int slice = (c + 32 * v - 1) / (32 * v) * 32 * v;   // a warp's lane-major bias slice (streams.cu SM_BIAS_SLICE)
        int grid = (tokens + perBlock - 1) / perBlock, shared = dbias == null ? 0 : warps * slice * Float.BYTES;
        kernel.allowSharedMemory(shared);   // past 48 KB at widths over 3,072 (the module serves instances of any width)
        step("bwd.merge", () -> kernel.launch(Dim3.of(grid), Dim3.of(RED_THREADS), shared,
                dOut, x, f, post, df, dres, dpost, dbias == null ? 0L : dbias, tokens, c, v));
    }

    /**
     * The streams' gradient dx (overwritten) = H_resᵀ dOut + H_preᵀ dh plus the path through the maps (projections,
     * RMSNorm of vec x); parameter gradients are ADDED into grads (same names and shapes as the parameters). Call after
     * backwardMerge of the same block, with the same dOut; the parameters are those the last aggregate() packed
     * (packing them again cost 0.06 ms per block). dx must not alias dOut.
     */
    public void backwardAggregate(DeviceTensor dOut, DeviceTensor dh, DeviceTensor x, Map<String, DeviceTensor> grads, DeviceTensor dx,
                                  int tokens) {
        table(grads, "grads");                      // (checked before any work)
        backwardAggregateKeeping(dOut, dh, x, dx, tokens);
        addGradients(List.of(this), List.of(grads));
    }

    /**
     * backwardAggregate without the parameter gradients, which wait as partial sums until {@link #addGradients} adds them
     * (one launch for all of a model's blocks; a launch per block cost more than its sums). The next backward of this
     * instance must wait for that.
     */
    public void backwardAggregateKeeping(DeviceTensor dOut, DeviceTensor dh, DeviceTensor x, DeviceTensor dx, int tokens) {
        if (pendingGrads != null)
            throw new IllegalStateException("the last backward's parameter gradients were not added yet: call addGradients first");
        checkSame(tokens);
        needStreams(dOut, tokens, "dOut");
        if (dOut.address() == dx.address()) throw new IllegalArgumentException("dx must not alias dOut");
        needRow(dh, tokens, "dh");
        needStreams(x, tokens, "x");
        needStreams(dx, tokens, "dx");
        // fused: the projections' path and dΦ_cat in the same pass (the path alone, dΦ_cat by GEMM, measured 0.72 + 0.20 ms
        // per block on the H100 against 0.47 for both)
        boolean fused = (fusedProjection || xType == DType.BF16) && m > 0 && m <= FUSE_MAX;
        // 16-byte copies: for bf16 streams, 8 columns each (C % 8 == 0)
        boolean vec = columnsPerAccess(dOut, dh, x) * xType.bytes() == 16;
        boolean mma = mmaBackward && vec && Kernels.vector(8, dx) == 8;
        int vd = columnsPerAccess(dh, x);
        step("bwd.dots_maps", () -> dotsMapsBwd.launch(Dim3.of((tokens + dotsMapsTokens - 1) / dotsMapsTokens), Dim3.of(128), 0, dh, x, u, r, theta,
                perms, dpost, dres, dzr, mma ? dzSplit : 0L, coef, part, tokens, c, vd));
        int chunks = Math.min(SUM_CHUNKS, tokens);
        int colBlocks = (th + 31) / 32;
        step("bwd.sums", () -> sumRows.launch(Dim3.of(colBlocks, chunks), Dim3.of(32, 8), 0, part, partSums, tokens, th));
        int tokensPerTile = mma ? MMA_TOKENS : bwdTokens;
        int cols = (c + FUSE_COLUMNS - 1) / FUSE_COLUMNS, tiles = (tokens + tokensPerTile - 1) / tokensPerTile;
        int rows = Math.min(Math.min(DPHI_ROWS, (tiles + 1) / 2), Math.max(2, (bwdWave + cols - 1) / cols));
        int per = (tiles + rows - 1) / rows;
        CudaFunction kernel = mma ? streamBwdMma : fused ? streamBwdDphi : streamBwd;
        int shared = mma ? streamBwdMmaShared : fused ? streamBwdDphiShared : streamBwdShared;
        Dim3 block = mma ? Dim3.of(32 * (FUSE_COLUMNS / 8)) : Dim3.of(FUSE_COLUMNS, n);   // mma: a warp per 8 columns
        step(fused ? "bwd.streams_dphi" : "bwd.streams", () -> kernel.launch(Dim3.of(cols, rows), block, shared,
                dOut, dh, x, pre, res, coef, mma ? dzSplit : dzr, phiCat, dx, part, tokens, c, per, vec ? 1 : 0));
        if (m > 0 && !fused) {
            DeviceTensor xf = x.view(0, tokens, d), dz = dzr.view(0, tokens, m);
            step("bwd.gemm_dphi", () -> gpu.matmul().run(xf, true, dz, false, dPhiCat.view(0, d, m), false));   // vec(x)ᵀ·(r·dz)
            step("bwd.gemm_dx", () -> gpu.matmul().run(dz, false, phiCat.view(0, d, m), true, dx.view(0, tokens, d), true));
        }
        pendingGrads = new Pending(fused ? part : dPhiCat, fused ? rows : 1, chunks);
    }

    /**
     * Adds the parameter gradients each block's {@link #backwardAggregateKeeping} left into that block's grads (same
     * names and shapes as the parameters), in one launch: blocks of one configuration, each with a backward waiting.
     */
    public static void addGradients(List<StreamMaps> blocks, List<Map<String, DeviceTensor>> grads) {
        checkGroup(blocks);
        for (int b = 0; b < blocks.size(); b++)
            if (blocks.get(b).pendingGrads == null)
                throw new IllegalStateException("block " + b + " has no backward waiting for its gradients: call backwardAggregateKeeping first");
        StreamMaps first = blocks.getFirst();
        long[] rows = slotRows(blocks, grads, "grads", (sm, matrix) -> new long[] {
                matrix ? sm.pendingGrads.dphi().address() : sm.partSums.address(),
                matrix ? sm.pendingGrads.rows() : sm.pendingGrads.chunks(), sm.d, 0});
        DeviceTensor table = first.gradTable.holding(first.arena, rows);
        first.step("bwd.param_adds", () -> first.gradsAdd.launch(Dim3.of(PACK_BLOCKS, rows.length / 8), Dim3.of(256), 0, table));
        for (StreamMaps sm : blocks) sm.pendingGrads = null;
    }

    /**
     * Forward projections: true (the default) computes r and vec(x)·Φ_cat in one pass over x (sm_project, where Φ_cat
     * has at most 64 columns, D is a multiple of 4 and x 16-byte aligned); false runs a RMS pass and one cuBLASLt GEMM.
     * Both are tested; on the H100 at N = 16k, C = 768, n = 4 (mHC) the fused kernel takes 0.163 ms against
     * 0.082 + 0.196 ms. -Dhyperlab.streammaps.fusedProjection=false switches it off.
     */
    void useFusedProjection(boolean fused) {
        fusedProjection = fused;
    }

    /** Whether merge with next may run sm_merge_project (default: -Dhyperlab.streammaps.mergeProject, false). */
    void useMergeProject(boolean on) {
        mergeProjecting = on;
    }

    /** Starts (non-null) or stops (null) timing each step into {@code into}, in ms summed over calls; slows every call. */
    void profile(Map<String, Float> into) {
        timings = into;
    }

    private void step(String name, Runnable work) {
        if (timings == null) work.run();
        else timings.merge(name, gpu.time(work), Float::sum);
    }

    /** Φ_cat as the projection kernels read it: its split copy where there is one. */
    private DeviceTensor projected() {
        return phiSplit != null ? phiSplit : phiCat;
    }

    /** Φ_cat and r·dz with their bf16 split copies (null where this configuration keeps none), for tests. */
    record Operands(DeviceTensor phi, DeviceTensor phiSplit, DeviceTensor dz, DeviceTensor dzSplit) {
    }

    /** This block's operands as they are now on the device. */
    Operands operands() {
        return new Operands(phiCat, phiSplit, dzr, dzSplit);
    }

    /** Per-token maps of the last aggregate() (copied to the host; waits for queued work). */
    public Maps lastMaps() {
        if (lastTokens < 0) throw new IllegalStateException("aggregate() has not run yet");
        int t = lastTokens;
        return new Maps(t, n, Arrays.copyOf(pre.toFloatArray(), t * n), Arrays.copyOf(post.toFloatArray(), t * n),
                Arrays.copyOf(res.toFloatArray(), t * n * n));
    }

    /**
     * Gathers several blocks' parameters into their Φ_cat and theta in one launch (a launch per block cost more than its
     * copies); each block's next aggregate, or the projecting merge before it, then uses them without packing again.
     * Blocks of one configuration, each with its own params.
     */
    public static void pack(List<StreamMaps> blocks, List<Map<String, DeviceTensor>> params) {
        packNow(blocks, params);
        for (int b = 0; b < blocks.size(); b++) blocks.get(b).packedFrom = params.get(b);
    }

    /** Packs params for this block's maps, unless {@link #pack(List, List)} packed these very params for it. */
    private void packFor(Map<String, DeviceTensor> params) {
        if (packedFrom != params) packNow(List.of(this), List.of(params));
        packedFrom = null;
    }

    private static void packNow(List<StreamMaps> blocks, List<Map<String, DeviceTensor>> params) {
        StreamMaps first = blocks.getFirst();
        long[] rows = slotRows(blocks, params, "params", (sm, matrix) -> new long[] {sm.phiCat.address(), sm.theta.address(), sm.d,
                sm.phiSplit == null ? 0 : sm.phiSplit.address()});
        DeviceTensor table = first.packTable.holding(first.arena, rows);
        first.step("fwd.pack", () -> first.packKernel.launch(Dim3.of(PACK_BLOCKS, rows.length / 8), Dim3.of(256), 0, table));
    }

    /** Blocks that one launch can serve: at least one, of one configuration (one module), each listed once. */
    private static void checkGroup(List<StreamMaps> blocks) {
        if (blocks.isEmpty()) throw new IllegalArgumentException("no blocks: at least one is required");
        for (int b = 0; b < blocks.size(); b++) {
            StreamMaps sm = blocks.get(b);
            if (sm.module != blocks.getFirst().module)
                throw new IllegalArgumentException("block " + b + " is " + sm.paradigm.key() + " n = " + sm.n + " with other kernels than block 0: "
                        + "pass each configuration's blocks in its own call");
            if (blocks.indexOf(sm) != b) throw new IllegalArgumentException("block " + b + " is listed twice");
        }
    }

    /**
     * Rows of 8 for sm_pack / sm_grads_add: each block's slots {address in tensors, width, offset, matrix} (checked
     * against the layout) and the 4 values {@code end} gives for the block and the slot's kind. Blocks of one
     * configuration (one module), each listed once, with one map of tensors each.
     */
    private static long[] slotRows(List<StreamMaps> blocks, List<Map<String, DeviceTensor>> tensors, String what,
                                   BiFunction<StreamMaps, Boolean, long[]> end) {
        if (blocks.size() != tensors.size())
            throw new IllegalArgumentException(blocks.size() + " blocks and " + tensors.size() + " maps of " + what + ": one map per block is required");
        checkGroup(blocks);
        long[] rows = new long[0];
        for (int b = 0; b < blocks.size(); b++) {
            StreamMaps sm = blocks.get(b);
            long[] slots = sm.table(tensors.get(b), what);
            int at = rows.length;
            rows = Arrays.copyOf(rows, at + 2 * slots.length);
            for (int i = 0; i < slots.length / 4; i++) {
                System.arraycopy(slots, 4 * i, rows, at + 8 * i, 4);
                System.arraycopy(end.apply(sm, slots[4 * i + 3] != 0), 0, rows, at + 8 * i + 4, 4);
            }
        }
        return rows;
    }

    /** Rows {address, width, offset, matrix} of the layout's slots in {@code tensors} (checked against the layout). */
    private long[] table(Map<String, DeviceTensor> tensors, String what) {
        List<StreamMapsLayout.Slot> slots = layout.slots();
        long[] t = new long[4 * slots.size()];
        for (int i = 0; i < slots.size(); i++) {
            StreamMapsLayout.Slot s = slots.get(i);
            DeviceTensor w = tensors.get(s.name());
            if (w == null) throw new IllegalArgumentException(what + " has no '" + s.name() + "' (" + paradigm.key() + ", n = " + n + ")");
            checkShape(w, s, what);
            t[4 * i] = w.address();
            t[4 * i + 1] = s.width();
            t[4 * i + 2] = s.offset();
            t[4 * i + 3] = s.matrix() ? 1 : 0;
        }
        return t;
    }

    /** Copies {@code want} into the device table unless it holds it already (the addresses rarely change); returns it. */
    /**
     * A device table of slot rows (I64 [rows, 8]) that is copied again only when its rows change: the addresses rarely
     * do, and a copy inside a CUDA graph's capture would fail.
     */
    private static final class SlotTable {
        private DeviceTensor table;
        private long[] held = {};

        /** The table holding rows (allocated in arena when their count changes). */
        DeviceTensor holding(DeviceArena arena, long[] rows) {
            if (Arrays.equals(held, rows)) return table;
            if (table == null || table.elements() != rows.length) table = arena.zeros(DType.I64, rows.length / 8, 8);
            ByteBuffer b = ByteBuffer.allocate(8 * rows.length).order(ByteOrder.LITTLE_ENDIAN);
            for (long v : rows) b.putLong(v);
            table.copyFromBytes(b.array());
            held = rows;
            return table;
        }
    }

    private static void checkShape(DeviceTensor t, StreamMapsLayout.Slot s, String what) {
        long size = Arrays.stream(s.shape()).reduce(1, (a, b) -> a * b);
        if (t.elements() != size || t.dtype() != DType.F32)
            throw new IllegalArgumentException(what + "['" + s.name() + "'] is " + t + ": F32 " + Arrays.toString(s.shape()) + " is required");
    }

    private void checkTokens(int tokens) {
        if (tokens < 1 || tokens > maxTokens)
            throw new IllegalArgumentException("tokens = " + tokens + ": 1.." + maxTokens + " (maxTokens) is allowed");
    }

    /**
     * Columns per access of the stream kernels: 16 bytes of the streams' dtype (8 bf16, 4 fp32) where C and every
     * tensor's start allow it, else 4, else 1. bf16 streams moved 8 bytes per access until 8 columns were allowed.
     */
    private int columnsPerAccess(DeviceTensor... ts) {
        if (xType == DType.BF16 && c % 8 == 0 && Kernels.vector(8, ts) == 8) return 8;
        return c % 4 == 0 ? Kernels.vector(4, ts) : 1;
    }

    private void checkSame(int tokens) {
        checkTokens(tokens);
        if (tokens != lastTokens)
            throw new IllegalStateException("tokens = " + tokens + " but the last aggregate() had " + lastTokens
                    + ": call aggregate() for this block first");
    }

    /** x, out, dOut or dx: the streams (or their gradient) of {@code tokens} tokens in this instance's stream dtype. */
    private void needStreams(DeviceTensor t, int tokens, String what) {
        if (t.elements() < (long) tokens * d || t.dtype() != xType)
            throw new IllegalArgumentException(what + " is " + t + ": at least " + (long) tokens * d + " " + xType
                    + " elements (the streams of " + tokens + " tokens) are required");
    }

    /** h, dh or f (the sublayer's input, its gradient, its output) for {@code tokens} tokens: [N, C] in the streams' dtype. */
    private void needRow(DeviceTensor t, int tokens, String what) {
        if (t.elements() < (long) tokens * c || t.dtype() != xType)
            throw new IllegalArgumentException(what + " is " + t + ": at least " + (long) tokens * c + " " + xType
                    + " elements (stored as the streams are) are required");
    }

    private static void need(DeviceTensor t, long elements, String what) {
        if (t.elements() < elements || t.dtype() != DType.F32)
            throw new IllegalArgumentException(what + " is " + t + ": at least " + elements + " F32 elements are required");
    }

    public int streams() {
        return n;
    }

    public int width() {
        return c;
    }

    public Paradigm paradigm() {
        return paradigm;
    }

    /** The dtype the streams x are stored in: F32 or BF16. */
    public DType streamType() {
        return xType;
    }

    /** Device bytes this block's maps hold (weights packed for the kernels and per-token state). */
    public long bytes() {
        return arena.bytes();
    }

    @Override
    public void close() {
        arena.close();
    }
}
