package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Row-major (batched) GEMMs C = epilogue(A·B [+ bias]) through cuBLASLt. Row-major C = A·B is column-major
 * Cᵀ = Bᵀ·Aᵀ, so B and A are handed to cuBLASLt swapped, with no transposes and no copies.
 * Plans (descriptors, layouts, the chosen algorithm) are cached per shape. The algorithm is the fastest of
 * cuBLASLt's first 8 heuristic picks, timed twice on the first call's own operands (its result goes to
 * a scratch buffer, so nothing is written twice) once the GPU's clock has settled; {@code -Dhyperlab.matmul.tune=false}
 * takes the heuristic's first pick.
 */
public final class Matmul {
    static final long WORKSPACE_BYTES = 32L << 20;
    /**
     * How many of cuBLASLt's heuristic picks a plan times (its first pick is not always the fastest for our shapes);
     * {@code -Dhyperlab.matmul.candidates=N} asks for another number.
     */
    static final int TUNE_CANDIDATES = Integer.getInteger("hyperlab.matmul.candidates", 8), TUNE_RUNS = 3, TUNE_PASSES = 2;
    private static final boolean TUNE = !"false".equals(System.getProperty("hyperlab.matmul.tune"));

    private final Gpu gpu;
    private final CublasLt lt;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment handle;
    private final long workspace;
    private final MemorySegment one, zero, biasSlot;
    private static final int OP_N = 0, OP_T = 1;
    private final Map<Key, Plan> plans = new HashMap<>();
    private Timeline timeline;
    private Map<String, Double> profiledFlops;
    /** How the GPU's clock settled before this process's first tuning (null until then; see settleClock). */
    private String clockSettle;
    static final int SETTLE_MAX_BATCHES = 100, SETTLE_WINDOW = 5;
    static final float SETTLE_BATCH_MS = 2f, SETTLE_TOLERANCE = 0.02f;

    /** alignA/B/C: the operands' address alignment in bytes (up to 256), which the chosen algorithm may rely on. */
    private record Key(DType dtype, DType out, long m, long n, long k, long batch, boolean transA, boolean transB, boolean accumulate,
                       Epilogue epilogue, int alignA, int alignB, int alignC) {
        /** e.g. "16384x2304x768 bT bf16>bf16 bias": m×n×k, transposes, operand > result dtype, +c when c is added, epilogue. */
        String label() {
            return m + "x" + n + "x" + k + (batch > 1 ? " [" + batch + "]" : "") + (transA ? " aT" : "") + (transB ? " bT" : "")
                    + " " + dtype.name().toLowerCase() + ">" + out.name().toLowerCase() + (accumulate ? " +c" : "")
                    + (epilogue == Epilogue.NONE ? "" : " " + epilogue.name().toLowerCase());
        }
    }

    /**
     * tuned: the algorithm was timed against the other candidates (a plan made by {@link #supports} is not); then
     * candidateMs holds each candidate's time (heuristic order, NaN where it could not run) and pick the chosen one.
     */
    private record Plan(MemorySegment desc, MemorySegment la, MemorySegment lb, MemorySegment lc, MemorySegment algo, boolean tuned,
                        float[] candidateMs, int pick) {
        Plan(MemorySegment desc, MemorySegment la, MemorySegment lb, MemorySegment lc, MemorySegment algo, boolean tuned) {
            this(desc, la, lb, lc, algo, tuned, null, 0);
        }
    }

    /** The tensors of the call that makes a plan, so that its candidates can be timed on them. */
    private record Operands(DeviceTensor a, DeviceTensor b, DeviceTensor c, DeviceTensor d, DeviceTensor bias) {
    }

    /** The emulator's: the same contract computed on the CPU in float64 accumulation, F32 only. */
    Matmul(Gpu gpu) {
        this.gpu = gpu;
        this.lt = null;
        this.handle = null;
        this.workspace = 0;
        this.one = this.zero = this.biasSlot = null;
    }

    Matmul(Gpu gpu, CublasLt lt) {
        this.gpu = gpu;
        this.lt = lt;
        MemorySegment h = arena.allocate(ADDRESS);
        lt.call("cublasLtCreate", lt.create, h);
        handle = h.get(ADDRESS, 0);
        workspace = gpu.alloc(WORKSPACE_BYTES);
        one = arena.allocateFrom(JAVA_FLOAT, 1f);
        zero = arena.allocateFrom(JAVA_FLOAT, 0f);
        biasSlot = arena.allocate(JAVA_LONG);
    }

    /**
     * c = a·b for a [..., m, k], b [..., k, n], c [..., m, n]; leading dims are the batch. a and b are F32, BF16 or
     * F16, c has their dtype or, for BF16/F16 inputs, F32 (mixed precision: 16-bit operands, fp32 accumulation and result).
     */
    public void run(DeviceTensor a, DeviceTensor b, DeviceTensor c) {
        run(a, b, c, Epilogue.NONE, null);
    }

    /** c = epilogue(a·b + bias), bias of shape [n] and c's dtype (null when the epilogue takes none). Queued on the stream. */
    public void run(DeviceTensor a, DeviceTensor b, DeviceTensor c, Epilogue epilogue, DeviceTensor bias) {
        run(a, false, b, false, c, false, epilogue, bias);
    }

    /**
     * c (+)= op(a)·op(b), where op transposes the last two dimensions when asked (a stored [m, k], or [k, m] with
     * transA); with {@code accumulate} the product is added to c (how a backward pass sums weight gradients).
     */
    public void run(DeviceTensor a, boolean transA, DeviceTensor b, boolean transB, DeviceTensor c, boolean accumulate) {
        run(a, transA, b, transB, c, accumulate, Epilogue.NONE, null);
    }

    /** The general form: c (+)= epilogue(op(a)·op(b) + bias); a layer's forward is run(x, false, w, true, y, false, BIAS, b). */
    public void run(DeviceTensor a, boolean transA, DeviceTensor b, boolean transB, DeviceTensor c,
                    boolean accumulate, Epilogue epilogue, DeviceTensor bias) {
        gemm(a, transA, b, transB, accumulate ? c : null, c, epilogue, bias);
    }

    /**
     * d = epilogue(op(a)·op(b) + c + bias) with c read and d written (c of d's shape and dtype, possibly another
     * buffer): a residual added in the GEMM's epilogue, y = x + x·Wᵀ + b, saves a pass over x, f and y.
     */
    public void run(DeviceTensor a, boolean transA, DeviceTensor b, boolean transB, DeviceTensor d, DeviceTensor c,
                    Epilogue epilogue, DeviceTensor bias) {
        if (c == null) throw new IllegalArgumentException("c is null: use run(..., accumulate = false, ...) for d = a·b");
        if (c.dtype() != d.dtype() || !Arrays.equals(c.shape(), d.shape()))
            throw new IllegalArgumentException("c must have d's dtype and shape " + d.dtype() + Arrays.toString(d.shape()) + ", got " + c);
        gemm(a, transA, b, transB, c, d, epilogue, bias);
    }

    /**
     * From now on charges each GEMM to a phase of {@code t} named by its shape (see Key.label; the work queued between
     * GEMMs goes to "other") and adds its FLOPs to {@code flops} under that name; null stops. Where a step's GEMM time goes.
     */
    public synchronized void profile(Timeline t, Map<String, Double> flops) {
        if ((t == null) != (flops == null)) throw new IllegalArgumentException("give both a timeline and a FLOP map, or neither");
        timeline = t;
        profiledFlops = flops;
    }

    /** d = epilogue(op(a)·op(b) [+ c] + bias); c null: nothing added. */
    private synchronized void gemm(DeviceTensor a, boolean transA, DeviceTensor b, boolean transB, DeviceTensor c, DeviceTensor d,
                                   Epilogue epilogue, DeviceTensor bias) {
        gpu.makeCurrent();
        boolean accumulate = c != null;
        Key key = key(a, transA, b, transB, d, accumulate, epilogue, accumulate ? Math.min(alignment(c), alignment(d)) : alignment(d));
        if (epilogue.needsBias() != (bias != null)) {
            throw new IllegalArgumentException("epilogue " + epilogue + (bias == null ? " needs" : " takes no") + " bias");
        }
        long biasLength = epilogue == Epilogue.BIAS_GRAD ? key.m() : key.n();
        if (bias != null && (bias.elements() != biasLength || bias.dtype() != d.dtype())) {
            throw new IllegalArgumentException((epilogue == Epilogue.BIAS_GRAD ? "the bias gradient" : "bias") + " must be "
                    + d.dtype() + "[" + biasLength + "], got " + bias);
        }
        if (epilogue == Epilogue.BIAS_GRAD && key.batch() != 1)
            throw new IllegalArgumentException("BIAS_GRAD needs one matrix product, not a batch of " + key.batch());
        if (timeline != null) timeline.mark("other");
        if (gpu.emulated()) {
            EmulatedGemm.run(key.m(), key.n(), key.k(), key.batch(), a, transA, b, transB, c, d, epilogue, bias);
        } else {
            Plan p = plans.get(key);
            if (p == null || (TUNE && !p.tuned())) {
                p = plan(key, TUNE ? new Operands(a, b, c, d, bias) : null);
                plans.put(key, p);
            }
            launch(p, a, b, c, d.address(), bias);
        }
        if (timeline != null) {
            String name = key.label();
            timeline.mark(name);
            profiledFlops.merge(name, 2.0 * key.m() * key.n() * key.k() * key.batch(), Double::sum);
        }
    }

    /** One cuBLASLt call with p's algorithm, the result going to address d. */
    private void launch(Plan p, DeviceTensor a, DeviceTensor b, DeviceTensor c, long d, DeviceTensor bias) {
        if (bias != null) {
            biasSlot.set(JAVA_LONG, 0, bias.address());
            setDesc(p.desc(), CublasLt.DESC_BIAS_POINTER, biasSlot, 8);
        }
        MemorySegment out = MemorySegment.ofAddress(d);
        lt.call("cublasLtMatmul", lt.matmul, handle, p.desc(), one, ptr(b), p.la(), ptr(a), p.lb(), c != null ? one : zero,
                c != null ? ptr(c) : out, p.lc(), out, p.lc(), p.algo(), MemorySegment.ofAddress(workspace), WORKSPACE_BYTES, gpu.stream);
    }

    /**
     * Whether cuBLASLt has an algorithm for c (+)= epilogue(op(a)·op(b)) with these operands here (always, on the
     * emulator); the plan is kept for the runs. Lets a caller fall back to separate kernels where an epilogue is missing.
     */
    public synchronized boolean supports(DeviceTensor a, boolean transA, DeviceTensor b, boolean transB, DeviceTensor c,
                                         boolean accumulate, Epilogue epilogue) {
        if (gpu.emulated()) return true;
        gpu.makeCurrent();
        Key key = key(a, transA, b, transB, c, accumulate, epilogue, alignment(c));
        try {
            plans.computeIfAbsent(key, k -> plan(k, null));
            return true;
        } catch (CudaException e) {
            return false;
        }
    }

    private static MemorySegment ptr(DeviceTensor t) {
        return MemorySegment.ofAddress(t.address());
    }

    private static Key key(DeviceTensor a, boolean transA, DeviceTensor b, boolean transB, DeviceTensor c,
                           boolean accumulate, Epilogue e, int alignC) {
        long[] sa = a.shape(), sb = b.shape(), sc = c.shape();
        if (sa.length < 2 || sb.length < 2 || sc.length < 2) throw new IllegalArgumentException("matmul needs matrices (rank >= 2)");
        long m = sa[sa.length - (transA ? 1 : 2)], k = sa[sa.length - (transA ? 2 : 1)];
        long kb = sb[sb.length - (transB ? 1 : 2)], n = sb[sb.length - (transB ? 2 : 1)];
        long batch = c.elements() / Math.max(1, m * n);
        boolean ok = kb == k && sc[sc.length - 2] == m && sc[sc.length - 1] == n
                && a.elements() == batch * m * k && b.elements() == batch * k * n;
        if (!ok) throw new IllegalArgumentException("shapes do not multiply: " + Arrays.toString(sa) + (transA ? "ᵀ" : "")
                + " · " + Arrays.toString(sb) + (transB ? "ᵀ" : "") + " -> " + Arrays.toString(sc));
        if (a.dtype() != b.dtype())
            throw new IllegalArgumentException("a and b must share a dtype, got " + a.dtype() + " and " + b.dtype());
        if (a.dtype() != DType.F32 && a.dtype() != DType.BF16 && a.dtype() != DType.F16) {
            throw new IllegalArgumentException("matmul supports F32, BF16 and F16, not " + a.dtype());
        }
        if (c.dtype() != a.dtype() && c.dtype() != DType.F32)
            throw new IllegalArgumentException("c must be " + a.dtype() + " like a and b, or F32, got " + c.dtype());
        return new Key(a.dtype(), c.dtype(), m, n, k, batch, transA, transB, accumulate, e, alignment(a), alignment(b), alignC);
    }

    /**
     * Address alignment in bytes, capped at 256. cuBLASLt's heuristics assume 256 unless told, and views into one
     * parameter buffer (ParamLayout) start wherever the previous tensor ended, e.g. 4 bytes after a scalar.
     */
    static int alignment(DeviceTensor t) {
        long a = t.address();
        return a == 0 ? 256 : (int) Math.min(256, Long.lowestOneBit(a));
    }

    /** ops null: the heuristic's first pick; else the fastest of its first TUNE_CANDIDATES picks on these operands. */
    private Plan plan(Key key, Operands ops) {
        int type = key.dtype().cudaDataType(), outType = key.out().cudaDataType();
        MemorySegment out = arena.allocate(ADDRESS);
        lt.call("cublasLtMatmulDescCreate", lt.descCreate, out, CublasLt.COMPUTE_32F, DType.F32.cudaDataType());
        MemorySegment desc = out.get(ADDRESS, 0);
        setDesc(desc, CublasLt.DESC_EPILOGUE, arena.allocateFrom(JAVA_INT, key.epilogue().code), 4);
        // cuBLASLt sees the column-major transposes: its A is our b, its B is our a
        setDesc(desc, CublasLt.DESC_TRANSA, arena.allocateFrom(JAVA_INT, key.transB() ? OP_T : OP_N), 4);
        setDesc(desc, CublasLt.DESC_TRANSB, arena.allocateFrom(JAVA_INT, key.transA() ? OP_T : OP_N), 4);
        if (key.epilogue().needsBias()) {
            // heuristics read the bias pointer's alignment: the workspace's (256-byte aligned) stands in until run() sets it
            biasSlot.set(JAVA_LONG, 0, workspace);
            setDesc(desc, CublasLt.DESC_BIAS_POINTER, biasSlot, 8);
        }
        // stored matrices as column-major: b is n×k (k×n when transposed), a is k×m (m×k when transposed)
        MemorySegment la = key.transB() ? layout(type, key.k(), key.n(), key.batch()) : layout(type, key.n(), key.k(), key.batch());
        MemorySegment lb = key.transA() ? layout(type, key.m(), key.k(), key.batch()) : layout(type, key.k(), key.m(), key.batch());
        MemorySegment lc = layout(outType, key.n(), key.m(), key.batch()); // C as column-major n×m
        MemorySegment pref = arena.allocate(ADDRESS);
        lt.call("cublasLtMatmulPreferenceCreate", lt.prefCreate, pref);
        lt.call("cublasLtMatmulPreferenceSetAttribute", lt.prefSet, pref.get(ADDRESS, 0), CublasLt.PREF_MAX_WORKSPACE_BYTES,
                arena.allocateFrom(JAVA_LONG, WORKSPACE_BYTES), 8L);
        // cuBLASLt's A is our b and its B our a (column-major view); C and D share a layout (alignC: the lesser of the two)
        int[][] aligns = {{CublasLt.PREF_MIN_ALIGNMENT_A_BYTES, key.alignB()}, {CublasLt.PREF_MIN_ALIGNMENT_B_BYTES, key.alignA()},
                {CublasLt.PREF_MIN_ALIGNMENT_C_BYTES, key.alignC()}, {CublasLt.PREF_MIN_ALIGNMENT_D_BYTES, key.alignC()}};
        for (int[] al : aligns)
            lt.call("cublasLtMatmulPreferenceSetAttribute", lt.prefSet, pref.get(ADDRESS, 0), al[0],
                    arena.allocateFrom(JAVA_INT, al[1]), 4L);
        int want = ops == null ? 1 : TUNE_CANDIDATES;
        MemorySegment results = arena.allocate(CublasLt.HEURISTIC_RESULT_BYTES * want, 8);
        MemorySegment count = arena.allocate(JAVA_INT);
        lt.call("cublasLtMatmulAlgoGetHeuristic", lt.heuristic, handle, desc, la, lb, lc, lc, pref.get(ADDRESS, 0), want,
                results, count);
        int found = count.get(JAVA_INT, 0);
        if (found < 1) throw new CudaException("cuBLASLt has no algorithm for " + key);
        MemorySegment first = results.asSlice(0, 64);
        if (ops == null || found == 1) return new Plan(desc, la, lb, lc, first, ops != null);
        float[] ms = fastest(new Plan(desc, la, lb, lc, first, false), results, found, ops);
        int best = 0;
        for (int i = 1; i < found; i++) if (ms[i] < ms[best]) best = i;
        for (int i = 0; i < found; i++) if (ms[i] == Float.MAX_VALUE) ms[i] = Float.NaN;
        return new Plan(desc, la, lb, lc, results.asSlice(best * CublasLt.HEURISTIC_RESULT_BYTES, 64), true, ms, best);
    }

    /**
     * Every plan made so far, by shape label and operand alignments: the chosen algorithm as cuBLASLt's 64 opaque bytes
     * (hex), and for a tuned plan which candidate won and each candidate's ms on its first call's operands. Lets two
     * runs, or two models of one run, be checked for running the same algorithm on the same shape.
     */
    public synchronized Map<String, String> plans() {
        Map<String, String> out = new LinkedHashMap<>();
        plans.forEach((k, p) -> {
            StringBuilder b = new StringBuilder("algo ");
            for (int i = 0; i < 64; i++) b.append(String.format("%02x", p.algo().get(JAVA_BYTE, i)));
            if (p.candidateMs() != null) b.append(" pick ").append(p.pick()).append(" of ms ").append(Arrays.toString(p.candidateMs()));
            out.put(k.label() + " align a" + k.alignA() + " b" + k.alignB() + " c" + k.alignC(), b.toString());
        });
        return out;
    }

    /**
     * Each candidate algorithm's ms on ops (Float.MAX_VALUE where it could not run), writing into a scratch copy of d so
     * that d (and c, read) stay as they were.
     * Before the process's first tuning the GPU's clock is settled (settleClock); then two passes over the candidates,
     * each keeping its faster time.
     */
    private float[] fastest(Plan p, MemorySegment results, int found, Operands ops) {
        long scratch = gpu.alloc(ops.d().bytes());
        try {
            if (clockSettle == null) clockSettle = settleClock(p, ops, scratch);
            float[] ms = new float[found];
            Arrays.fill(ms, Float.MAX_VALUE);
            for (int pass = 0; pass < TUNE_PASSES; pass++) {
                for (int i = 0; i < found; i++) {
                    Plan candidate = new Plan(p.desc(), p.la(), p.lb(), p.lc(), results.asSlice(i * CublasLt.HEURISTIC_RESULT_BYTES, 64), false);
                    try {
                        launch(candidate, ops.a(), ops.b(), ops.c(), scratch, ops.bias());    // warm-up
                        ms[i] = Math.min(ms[i], gpu.time(() -> {
                            for (int r = 0; r < TUNE_RUNS; r++) launch(candidate, ops.a(), ops.b(), ops.c(), scratch, ops.bias());
                        }));
                    } catch (CudaException e) {
                        // a candidate the library offers but cannot run on these operands: the others remain
                    }
                }
            }
            return ms;
        } finally {
            gpu.synchronize();
            gpu.free(scratch);
        }
    }

    /**
     * Keeps the GPU busy with p's algorithm, in batches of about SETTLE_BATCH_MS, until the batches stop getting faster
     * ({@link #settled}; at most SETTLE_MAX_BATCHES): an idle GPU raises its clock over its first milliseconds of work,
     * longer than timing one shape's candidates takes, so the first shapes of a process would otherwise be tuned at a
     * climbing clock. Returns what it saw, for {@link #clockSettle()}.
     */
    private String settleClock(Plan p, Operands ops, long scratch) {
        Runnable one = () -> launch(p, ops.a(), ops.b(), ops.c(), scratch, ops.bias());
        try {
            one.run();                                               // loads the kernel
            float single = Math.max(1e-3f, gpu.time(one));
            int runs = Math.max(1, (int) Math.ceil(SETTLE_BATCH_MS / single));
            Runnable batch = () -> {
                for (int r = 0; r < runs; r++) one.run();
            };
            List<Float> times = new ArrayList<>();
            do times.add(gpu.time(batch));
            while (!settled(times) && times.size() < SETTLE_MAX_BATCHES);
            return String.format("%d batches of %d GEMMs: first %.3f ms, last %.3f ms", times.size(), runs, times.getFirst(), times.getLast());
        } catch (CudaException e) {
            return "not settled: the first candidate cannot run (" + e.getMessage() + ")";
        }
    }

    /** Whether the last batch is no more than SETTLE_TOLERANCE faster than the one SETTLE_WINDOW batches before it. */
    static boolean settled(List<Float> times) {
        int n = times.size();
        return n > SETTLE_WINDOW && times.get(n - 1) >= (1 - SETTLE_TOLERANCE) * times.get(n - 1 - SETTLE_WINDOW);
    }

    /**
     * How the GPU's clock settled before the process's first GEMM tuning: batches run and their first and last times
     * (a first batch much slower than the last is a clock that was still rising); null before any tuning.
     */
    public synchronized String clockSettle() {
        return clockSettle;
    }

    private MemorySegment layout(int type, long rows, long cols, long batch) {
        MemorySegment out = arena.allocate(ADDRESS);
        lt.call("cublasLtMatrixLayoutCreate", lt.layoutCreate, out, type, rows, cols, rows);
        MemorySegment l = out.get(ADDRESS, 0);
        if (batch > 1) {
            lt.call("cublasLtMatrixLayoutSetAttribute", lt.layoutSet, l, CublasLt.LAYOUT_BATCH_COUNT,
                    arena.allocateFrom(JAVA_INT, Math.toIntExact(batch)), 4L);
            lt.call("cublasLtMatrixLayoutSetAttribute", lt.layoutSet, l, CublasLt.LAYOUT_STRIDED_BATCH_OFFSET,
                    arena.allocateFrom(JAVA_LONG, rows * cols), 8L);
        }
        return l;
    }

    private void setDesc(MemorySegment desc, int attr, MemorySegment value, long size) {
        lt.call("cublasLtMatmulDescSetAttribute", lt.descSet, desc, attr, value, size);
    }
}
