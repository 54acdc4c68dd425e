package hyperlab.gpu;

import hyperlab.cuda.CudaGraph;
import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.cuda.Epilogue;
import hyperlab.cuda.Gpu;
import hyperlab.cuda.Matmul;
import hyperlab.cuda.Timeline;
import hyperlab.nn.GptConfig;
import hyperlab.nn.Paradigm;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The nanoGPT of {@link hyperlab.nn.Gpt} on the GPU, forward and backward, for a fixed batch and sequence length:
 * embedding into n streams, 2L hyper-connected sublayers (LN → attention → proj, LN → fc → GELU → proj), stream
 * mean, ln_f, tied head, fused cross-entropy. Weights and gradients live in one buffer each ({@link ParamLayout}).
 * Every activation the backward needs is kept, except that with a recompute group g &gt; 1 the n·C streams entering
 * a block are kept only at every g-th block and rebuilt, group by group, in the backward (mHC §4.3.2).
 * <p>
 * Precision F32 computes everything in fp32. BF16 is mixed precision as in PyTorch's autocast: the activations
 * that only feed GEMMs and attention (LayerNorm outputs, qkv, fc, GELU, attention output, logits and their
 * gradients) are bf16, the weights they meet are a bf16 copy of the fp32 master weights made each step, every
 * product accumulates in fp32, and the residual streams, the maps, norm statistics, losses, weight gradients and the
 * optimiser stay fp32. With bf16 streams the n &gt; 1 streams of the hyper-connected paradigms and their gradients
 * are stored in bf16 as well (autocast's H_res·x yields bf16 streams, and autograd bf16 gradients for them), and so is
 * each sublayer's input h, its gradient and its output f (autocast's bf16 results of H_pre·x, of the LayerNorm's
 * backward and of c_proj, whose bias is rounded with the weights): each pass over them moves half the bytes, every sum
 * stays fp32. RC's single residual stays fp32 either way.
 */
public final class GpuGpt implements AutoCloseable {
    private final Gpu gpu;
    private final GptConfig cfg;
    private final ParamLayout layout;
    private final int batch, time, tokens, c, n, group;
    private final boolean biasGradEpilogue;       // weight-gradient GEMMs also sum the bias gradients (cuBLASLt BGRADB)
    private final boolean projBiasSummed;         // c_proj's bias gradient comes from the pass that writes its output gradient
    private final DType compute;                  // F32, or BF16 for the GEMM and attention operands
    private final DType streamType;               // the n > 1 streams as stored: F32, or BF16
    private final DeviceArena arena;
    private final Kernels k;
    private final Matmul mm;
    private final Attention attention;
    private final DeviceTensor params, grads, paramsLo;   // paramsLo: the weights in the compute dtype (params for F32)
    private final List<DeviceTensor> addedGrads;  // the parts of grads a backward adds into, zeroed before it
    private boolean weightsRounded;               // paramsLo holds params rounded: the optimizer wrote both (roundedWeightsWritten)
    private final List<Block> blocks = new ArrayList<>();
    private Timeline timeline;                    // non-null while a step is being profiled
    private boolean graphs = graphsByDefault();
    private final CudaGraph[] graph = new CudaGraph[2];            // [0] evaluation, [1] training step
    private final boolean[] ranUncaptured = new boolean[2];
    private final DeviceTensor ids, targets, xFinal, xMean, lnf, lnfMean, lnfRstd, logits, losses;
    private final DeviceTensor dxA, dxB, dMean, dLn, dH, dF, dFLo, dY, dQkv, dU;

    /** One sublayer with its weights (views into the buffers) and the activations its backward reads. */
    private final class Block {
        final int index;
        final boolean attn;
        final StreamMaps maps;                  // null for RC
        final Map<String, DeviceTensor> mapW = new LinkedHashMap<>(), mapG = new LinkedHashMap<>();
        final DeviceTensor lnG, lnB, projB, dlnG, dlnB, dfcW, dfcB, dprojW, dprojB;
        final DeviceTensor fcW, fcB, projW;               // what the GEMMs read: views into paramsLo (the compute dtype)
        final DeviceTensor x, h, ln, mean, rstd, hidden, act, lse, f;   // x: the streams entering this block

        Block(int index, DeviceTensor x) {
            this.index = index;
            this.x = x;
            attn = index % 2 == 0;
            int hiddenWidth = attn ? 3 * c : 4 * c;
            maps = cfg.paradigm() == Paradigm.RC ? null : new StreamMaps(gpu, cfg.paradigm(), n, c, cfg.dynamic(),
                    cfg.sinkhornIterations(), cfg.sinkhornLogDomain(), tokens, streamType);
            layout.mapParams(cfg, index).forEach((name, e) -> {
                mapW.put(name, view(params, e));
                mapG.put(name, view(grads, e));
            });
            String fc = attn ? "02c_attn" : "02c_fc";
            lnG = view(params, layout.sublayer(index, "01ln_gamma"));
            lnB = view(params, layout.sublayer(index, "01ln_beta"));
            // the bias in f's dtype: fp32 for RC's fp32 residual and fp32 streams, the bf16 copy for bf16 streams' f
            projB = view(maps != null && streamType == DType.BF16 ? paramsLo : params, layout.sublayer(index, "03c_proj_bias"));
            dlnG = view(grads, layout.sublayer(index, "01ln_gamma"));
            dlnB = view(grads, layout.sublayer(index, "01ln_beta"));
            dfcW = view(grads, layout.sublayer(index, fc + "_weight"));
            dfcB = view(grads, layout.sublayer(index, fc + "_bias"));
            dprojW = view(grads, layout.sublayer(index, "03c_proj_weight"));
            dprojB = view(grads, layout.sublayer(index, "03c_proj_bias"));
            fcW = view(paramsLo, layout.sublayer(index, fc + "_weight"));
            fcB = view(paramsLo, layout.sublayer(index, fc + "_bias"));
            projW = view(paramsLo, layout.sublayer(index, "03c_proj_weight"));
            h = maps == null ? x.view(0, tokens, c) : arena.alloc(streamType, tokens, c);   // the LayerNorm's input, stored as the streams
            ln = arena.alloc(compute, tokens, c);
            mean = arena.alloc(DType.F32, tokens);
            rstd = arena.alloc(DType.F32, tokens);
            hidden = arena.alloc(compute, tokens, hiddenWidth);          // qkv, or the fc output before GELU
            act = arena.alloc(compute, tokens, attn ? c : 4 * c);        // attention output y, or GELU(fc)
            lse = attn ? arena.alloc(DType.F32, batch, cfg.heads(), time) : null;
            f = maps == null ? null : arena.alloc(streamType, tokens, c);  // stored as the streams; RC adds its f to x inside the GEMM
        }
    }

    /** Allocates the fp32 model for batches of {@code batch} sequences of {@code time} tokens (time ≤ context), keeping every activation. */
    public GpuGpt(Gpu gpu, GptConfig cfg, int batch, int time) {
        this(gpu, cfg, batch, time, 1);
    }

    /** The fp32 model with a recompute group (below). */
    public GpuGpt(Gpu gpu, GptConfig cfg, int batch, int time, int group) {
        this(gpu, cfg, batch, time, group, DType.F32);
    }

    /**
     * As above, keeping the streams that enter a block only for every {@code group}-th block (1: all of them); the
     * backward rebuilds the others from the kept one and the blocks' stored outputs, x_{l+1} = H_res·x_l + H_postᵀ f_l
     * (for RC x_l + f_l), with the maps of the forward, so the gradients are bit for bit those of group 1.
     * {@code compute} is F32 or BF16 (mixed precision, see the class comment).
     */
    public GpuGpt(Gpu gpu, GptConfig cfg, int batch, int time, int group, DType compute) {
        this(gpu, cfg, batch, time, group, compute, DType.F32);
    }

    /**
     * As above, with the n &gt; 1 streams of hc, mhc, mhc-lite and shc stored as {@code streams} (F32, or BF16 with BF16
     * compute; see the class comment); RC and n = 1 keep fp32 streams whatever it says.
     */
    public GpuGpt(Gpu gpu, GptConfig cfg, int batch, int time, int group, DType compute, DType streams) {
        if (streams != DType.F32 && streams != DType.BF16)
            throw new IllegalArgumentException("stream precision must be F32 or BF16, got " + streams);
        if (streams == DType.BF16 && compute != DType.BF16)
            throw new IllegalArgumentException("bf16 streams are part of mixed precision: use precision bf16 with them, or fp32 streams");
        boolean narrow = streamTypeFor(cfg, streams) == DType.BF16;
        if (narrow && !StreamMaps.bf16StreamsSupported(cfg.paradigm(), cfg.streams(), cfg.width(), cfg.dynamic()))
            throw new IllegalArgumentException("bf16 streams are not available for " + cfg.paradigm().key() + " with n = " + cfg.streams()
                    + " and width " + cfg.width() + " (they need at most 64 map columns and n·width a multiple of 8): use fp32 streams");
        this.streamType = narrow ? DType.BF16 : DType.F32;
        if (compute != DType.F32 && compute != DType.BF16)
            throw new IllegalArgumentException("precision must be F32 or BF16, got " + compute);
        if (group < 1 || group > 2 * cfg.layers())
            throw new IllegalArgumentException("recompute group = " + group + " must be in [1, " + 2 * cfg.layers()
                    + "] (the model has 2 x layers = " + 2 * cfg.layers() + " blocks; 1 keeps every block's streams)");
        if (time > cfg.context())
            throw new IllegalArgumentException("time = " + time + " exceeds context = " + cfg.context() + ": lower time or raise context");
        if (batch < 1 || time < 1) throw new IllegalArgumentException("batch and time must be positive: " + batch + ", " + time);
        this.gpu = gpu;
        this.cfg = cfg;
        this.layout = ParamLayout.of(cfg);
        this.batch = batch;
        this.time = time;
        this.tokens = batch * time;
        this.c = cfg.width();
        this.n = cfg.streams();
        this.group = group;
        this.compute = compute;
        this.arena = gpu.arena();
        this.k = new Kernels(gpu);
        this.mm = gpu.matmul();
        this.attention = new Attention(gpu, cfg.heads(), c / cfg.heads(), compute);
        params = arena.alloc(DType.F32, layout.total());
        grads = arena.zeros(DType.F32, layout.total());
        paramsLo = compute == DType.F32 ? params : arena.alloc(compute, layout.total());
        ids = arena.alloc(DType.I32, tokens);
        targets = arena.alloc(DType.I32, tokens);
        List<DeviceTensor> shared = new ArrayList<>();          // slot j of every group (j ≥ 1) shares one buffer
        for (int j = 1; j < group; j++) shared.add(arena.alloc(streamType, tokens, n, c));
        for (int i = 0; i < 2 * cfg.layers(); i++)
            blocks.add(new Block(i, i % group == 0 ? arena.alloc(streamType, tokens, n, c) : shared.get(i % group - 1)));
        xFinal = arena.alloc(streamType, tokens, n, c);
        xMean = n == 1 ? xFinal.view(0, tokens, c) : arena.alloc(DType.F32, tokens, c);
        lnf = arena.alloc(compute, tokens, c);
        lnfMean = arena.alloc(DType.F32, tokens);
        lnfRstd = arena.alloc(DType.F32, tokens);
        logits = arena.alloc(compute, tokens, cfg.vocab());
        losses = arena.alloc(DType.F32, tokens);
        dxA = arena.alloc(streamType, tokens, n, c);
        dxB = arena.alloc(streamType, tokens, n, c);
        dMean = n == 1 ? dxA.view(0, tokens, c) : arena.alloc(DType.F32, tokens, c);
        dLn = arena.alloc(compute, tokens, c);       // the blocks' d ln, a GEMM output only the LayerNorm backward reads: bf16 as under autocast
        dH = arena.alloc(streamType, tokens, c);     // h's gradient, for the maps' backward: stored as the streams
        dF = arena.alloc(DType.F32, tokens, c);
        dFLo = compute == DType.F32 ? null : arena.alloc(compute, tokens, c);   // the stream gradient into F, rounded
        dY = arena.alloc(compute, tokens, c);
        dQkv = arena.alloc(compute, tokens, 3 * c);
        dU = arena.alloc(compute, tokens, 4 * c);
        params.copyFrom(layout.initialValues(cfg.seed()));
        // -Dhyperlab.gpu.biasGradEpilogue=false: separate bias kernels and plain weight-gradient GEMMs (to compare the two)
        boolean supported = biasGradEpilogueEverywhere();
        biasGradEpilogue = supported && !"false".equals(System.getProperty("hyperlab.gpu.biasGradEpilogue"));
        addedGrads = addedGradients();
        if (!supported)
            System.err.println("hyperlab: cuBLASLt here has no bias-gradient epilogue for " + nameOf(compute)
                    + " GEMMs; the bias gradients run as separate kernels");
        else if (!biasGradEpilogue)
            System.err.println("hyperlab: -Dhyperlab.gpu.biasGradEpilogue=false: the bias gradients run as separate kernels");
        // c_proj's output gradient is written by a pass that reads it anyway: RC's LayerNorm backward (the residual's
        // gradient) or the streams' merge backward (df). Summing its columns there costs that pass little, while BGRADB
        // made c_proj's weight-gradient GEMMs 0.2-0.24 ms a step slower (H100, ab-5ec999d-h100.json).
        // -Dhyperlab.gpu.projBiasSums=false keeps the epilogue (to compare the two).
        projBiasSummed = !"false".equals(System.getProperty("hyperlab.gpu.projBiasSums"));
    }

    /** lo = x in the compute dtype (a cast for BF16; for F32 lo is x and nothing runs); returns lo. */
    private DeviceTensor lowp(DeviceTensor x, DeviceTensor lo) {
        if (lo != x) k.toBf16(lo, x, x.elements());
        return lo;
    }

    private static DeviceTensor view(DeviceTensor buffer, ParamLayout.Entry e) {
        return buffer.view(e.offset(), e.shape());
    }

    public GptConfig config() { return cfg; }

    public ParamLayout layout() { return layout; }

    public Gpu gpu() { return gpu; }

    Kernels kernels() { return k; }

    public int batch() { return batch; }

    public int time() { return time; }

    /** F32, or BF16 for mixed precision. */
    public DType precision() { return compute; }

    /** How the streams are stored: BF16 where bf16 streams were asked for and apply (n &gt; 1, not RC), else F32. */
    public DType streamPrecision() { return streamType; }

    /** How a model of {@code cfg} stores its streams when {@code requested} is asked for: BF16 only for n &gt; 1 and not RC. */
    public static DType streamTypeFor(GptConfig cfg, DType requested) {
        return requested == DType.BF16 && cfg.paradigm() != Paradigm.RC && cfg.streams() > 1 ? DType.BF16 : DType.F32;
    }

    /** The dtype a precision name means: "bf16" (mixed precision) or "fp32", as TrainConfig and GpuBench spell them. */
    public static DType dtypeOf(String precision) {
        return switch (precision.trim()) {
            case "bf16" -> DType.BF16;
            case "fp32" -> DType.F32;
            default -> throw new IllegalArgumentException("precision = '" + precision + "': use bf16 or fp32");
        };
    }

    /** The name of a precision: "bf16" or "fp32" (the inverse of {@link #dtypeOf}). */
    public static String nameOf(DType precision) {
        return precision == DType.BF16 ? "bf16" : "fp32";
    }

    /** Blocks per recompute group (1: no recomputation). */
    public int recomputeGroup() { return group; }

    /** Device bytes the model holds now: weights, gradients, activations, the maps' state and attention scratch. */
    public long deviceBytes() {
        long sum = arena.bytes() + attention.bytes();
        for (Block b : blocks) if (b.maps != null) sum += b.maps.bytes();
        return sum;
    }

    /**
     * The group with the fewest stream buffers for {@code blocks} blocks: ⌈blocks/g⌉ kept plus g − 1 shared ones,
     * smallest near g = √blocks (the mHC paper's L_r* = √(nL/(n+2)) also counts the (n+2)C it recomputes per layer;
     * here only the n·C streams are rebuilt). Ties go to the smaller g, which recomputes less.
     */
    public static int optimalGroup(int blocks) {
        int best = 1;
        for (int g = 2; g <= blocks; g++) if (buffers(blocks, g) < buffers(blocks, best)) best = g;
        return best;
    }

    /** The group a recompute setting means for {@code blocks} blocks: off → 1, auto → {@link #optimalGroup}, or g itself. */
    public static int recomputeGroup(String setting, int blocks) {
        int g = switch (setting.trim()) {
            case "off" -> 1;
            case "auto" -> optimalGroup(blocks);
            default -> {
                try {
                    yield Integer.parseInt(setting.trim());
                } catch (NumberFormatException e) {
                    yield 0;
                }
            }
        };
        if (g < 1 || g > blocks)
            throw new IllegalArgumentException("recompute = '" + setting + "' is not allowed: use off, auto, or a group g in [1, "
                    + blocks + "] (the model's 2 x layers blocks)");
        return g;
    }

    private static int buffers(int blocks, int g) {
        return (blocks + g - 1) / g + g - 1;
    }

    /**
     * All weights in one buffer, in {@link ParamLayout} order (for the optimiser and checkpoints). The next step reads
     * them as they are, unless {@link #roundedWeightsWritten} came after the last write (an optimizer's update that wrote both).
     */
    public DeviceTensor params() { return params; }

    /**
     * The buffer an optimizer's update writes the new weights into in the compute dtype (BF16), or null where the
     * GEMMs read {@link #params()} itself (F32). Writing it saves the next step's cast pass over all weights.
     */
    DeviceTensor roundedWeights() { return paramsLo == params ? null : paramsLo; }

    /**
     * true: an optimizer's update just wrote {@link #roundedWeights()} along with the weights, so the next step skips
     * its cast (only that step: a later one casts again); false: the weights were written another way.
     */
    void roundedWeightsWritten(boolean written) {
        weightsRounded = written;
    }

    /** All gradients, laid out like {@link #params()}. */
    public DeviceTensor grads() { return grads; }

    /** Sets one named tensor (row-major values, as the CPU model holds it). */
    public void setParam(String name, float[] values) {
        ParamLayout.Entry e = layout.get(name);
        if (values.length != e.size())
            throw new IllegalArgumentException(name + " has " + e.size() + " elements, got " + values.length);
        view(params, e).copyFrom(values);
        weightsRounded = false;
    }

    public float[] param(String name) {
        return view(params, layout.get(name)).toFloatArray();
    }

    public float[] grad(String name) {
        return view(grads, layout.get(name)).toFloatArray();
    }

    /** Each block's per-token maps from the last forward, in block order (empty for RC): for stability diagnostics. */
    public List<StreamMaps.Maps> lastMaps() {
        List<StreamMaps.Maps> out = new ArrayList<>();
        for (Block b : blocks) if (b.maps != null) out.add(b.maps.lastMaps());
        return out;
    }

    /** The logits of the last forward, [batch·time, vocab] (before a backward overwrites them with their gradient). */
    public float[] logits() {
        return logits.toFloatArray();
    }

    /**
     * Mean next-token loss of {@code ids} → {@code targets} (batch·time each), and with {@code backward} the gradient
     * of that mean in {@link #grads()} (zeroed first).
     */
    public double step(int[] ids, int[] targets, boolean backward) {
        queueStep(ids, targets, backward);
        return meanLoss();
    }

    /**
     * {@link #step} without waiting: copies the ids and targets, queues the step's GPU work and returns;
     * {@link #meanLoss()} waits for it. Lets a caller see how long the host takes to queue a step.
     */
    public void queueStep(int[] ids, int[] targets, boolean backward) {
        if (ids.length != tokens || targets.length != tokens)
            throw new IllegalArgumentException("need batch·time = " + tokens + " ids and targets, got " + ids.length + " and " + targets.length);
        for (int[] a : new int[][] {ids, targets})
            for (int t : a)
                if (t < 0 || t >= cfg.vocab())
                    throw new IllegalArgumentException("token id " + t + " is outside [0, vocab = " + cfg.vocab() + ")");
        this.ids.copyFrom(ids);
        this.targets.copyFrom(targets);
        tick("input copies");
        if (!weightsRounded) lowp(params, paramsLo);  // BF16: this step's weights, rounded once (outside the graphs)
        weightsRounded = false;
        tick("casts");
        int kind = backward ? 1 : 0;
        if (timeline != null || !graphs) {                 // a profiled step times its phases: queued kernel by kernel
            queueWork(backward);
            return;
        }
        if (graph[kind] == null) {
            if (!ranUncaptured[kind]) {                    // the first makes GEMM plans, compiles kernels, allocates scratch
                queueWork(backward);
                ranUncaptured[kind] = true;
                return;
            }
            try {
                graph[kind] = gpu.capture(() -> queueWork(backward));
            } catch (RuntimeException e) {
                graphs = false;
                System.err.println("hyperlab: CUDA graphs are off for this model, its steps are queued kernel by kernel: " + e.getMessage());
                queueWork(backward);
                return;
            }
        }
        graph[kind].launch();
    }

    /**
     * Whether steps replay a CUDA graph (default: on, unless -Dhyperlab.gpu.graphs=false): a step's kernels and GEMMs
     * are recorded at its second call and replayed with one launch after that, one graph for training steps and one
     * for evaluation. Off closes the graphs; a profiled step always runs kernel by kernel.
     */
    public void useGraphs(boolean on) {
        graphs = on;
        if (!on) closeGraphs();
    }

    /** Whether a new model replays CUDA graphs: yes, unless -Dhyperlab.gpu.graphs=false. */
    public static boolean graphsByDefault() {
        return !"false".equals(System.getProperty("hyperlab.gpu.graphs"));
    }

    /** Whether steps replay CUDA graphs (false when turned off, or after a capture failed). */
    public boolean usesGraphs() {
        return graphs;
    }

    /** The GPU work of one step after the input copies and the weights' cast: forward, loss, and with {@code backward} zeroed gradients and the backward. */
    private void queueWork(boolean backward) {
        forward();
        if (!backward) {
            k.crossEntropy(logits, losses, this.targets, tokens, cfg.vocab());
            return;
        }
        for (DeviceTensor r : addedGrads) r.zero();
        tick("zero grads");
        k.crossEntropyForwardBackward(logits, losses, this.targets, tokens, cfg.vocab(), 1f / tokens);
        tick("head and loss");
        backward();
    }

    private void closeGraphs() {
        for (int i = 0; i < graph.length; i++) {
            if (graph[i] != null) graph[i].close();
            graph[i] = null;
        }
    }

    /**
     * Charges the work of the following steps to phases on {@code t} (embedding, maps, layernorm, gemm, attention,
     * gelu, head and loss, casts, and bias grads where they are not summed in the GEMMs); null stops. For benchmarks: each phase boundary records a GPU event.
     */
    public void profile(Timeline t) {
        this.timeline = t;
    }

    private void tick(String phase) {
        if (timeline != null) timeline.mark(phase);
    }

    /** The mean loss of the last queued step (waits for it). */
    public double meanLoss() {
        double s = 0;
        for (float l : losses.toFloatArray()) s += l;
        return s / tokens;
    }

    private void forward() {
        ParamLayout.Entry wte = layout.get("wte");
        k.encoderForward(blocks.getFirst().x, ids, view(params, wte), view(params, layout.get("wpe")), tokens, time, c, n);
        tick("embedding");
        if (blocks.getFirst().maps != null) {        // every block's map parameters into its kernels' layout, in one launch
            StreamMaps.pack(blocks.stream().map(b -> b.maps).toList(), blocks.stream().map(b -> b.mapW).toList());
            tick("maps");
        }
        for (int i = 0; i < blocks.size(); i++) {
            Block b = blocks.get(i);
            DeviceTensor next = i + 1 < blocks.size() ? blocks.get(i + 1).x : xFinal;
            // bf16 streams: h and its LayerNorm in one pass over the streams (h is not read back)
            boolean normalized = b.maps != null && b.maps.aggregateNormalized(b.x, b.mapW, b.h, b.ln, b.mean, b.rstd, b.lnG, b.lnB, tokens);
            tick("maps");
            if (!normalized) k.layerNorm(b.ln, b.mean, b.rstd, b.h, b.lnG, b.lnB, tokens, c);
            tick("layernorm");
            mm.run(b.ln, false, b.fcW, true, b.hidden, false, Epilogue.BIAS, b.fcB);
            tick("gemm");
            if (b.attn) attention.forward(b.hidden, b.act, b.lse, batch, time);
            else k.gelu(b.act, b.hidden, b.act.elements());
            tick(b.attn ? "attention" : "gelu");
            if (b.maps != null) {
                mm.run(b.act, false, b.projW, true, b.f, false, Epilogue.BIAS, b.projB);      // f: for the streams, in their dtype
                tick("gemm");
                // the next block's maps come with the merge where sm_merge_project is on (off by default: slower)
                if (i + 1 < blocks.size()) b.maps.merge(b.x, b.f, next, tokens, blocks.get(i + 1).maps, blocks.get(i + 1).mapW);
                else advance(b, next);
                tick("maps");
            } else {
                advance(b, next);
                tick("gemm");
            }
        }
        if (n > 1) k.streamMean(xMean, xFinal, tokens, c, n);
        tick("maps");
        k.layerNorm(lnf, lnfMean, lnfRstd, xMean, view(params, layout.finalNorm("gamma", cfg.layers())),
                view(params, layout.finalNorm("beta", cfg.layers())), tokens, c);
        tick("layernorm");
        mm.run(lnf, false, view(paramsLo, wte), true, logits, false);
        tick("head and loss");
    }

    /** Expects the logits' gradient in {@code logits}. */
    private void backward() {
        ParamLayout.Entry wte = layout.get("wte");
        // d lnf = dlogits · wte, into dF (free until the blocks' backward) in fp32: with a bf16 output this GEMM measured
        // 0.31-0.37 ms slower per step (ab-6393ed0-h100.json, "head and loss"), more than the bf16 read saves
        mm.run(logits, false, view(paramsLo, wte), false, dF, false);
        mm.run(logits, true, lnf, false, view(grads, wte), false);           // d wte = dlogitsᵀ · lnf (the embedding's added later)
        tick("head and loss");
        // RC: the LayerNorm backwards write dx in bf16 as well, for the next block's GEMMs (no cast pass)
        boolean rounded = n == 1 && dFLo != null;
        DeviceTensor lastProjBias = projBiasSummed && n == 1 ? blocks.getLast().dprojB : null;   // RC: dx is its gradient
        k.layerNormBackward(dMean, rounded ? dFLo : null, view(grads, layout.finalNorm("gamma", cfg.layers())),
                view(grads, layout.finalNorm("beta", cfg.layers())), lastProjBias, dF, xMean,
                view(params, layout.finalNorm("gamma", cfg.layers())), lnfMean, lnfRstd, tokens, c, false);
        DeviceTensor dx = dxA, dPrev = dxB;
        tick("layernorm");
        if (n > 1) k.streamMeanBackward(dx, dMean, tokens, c, n);
        tick("maps");
        for (int i = blocks.size() - 1; i >= 0; i--) {
            if (i % group == group - 1 || i == blocks.size() - 1) rebuildStreams(i - i % group, i);
            tick("recompute");
            Block b = blocks.get(i);
            DeviceTensor df;                         // F's gradient
            boolean dfRounded;                       // whether dFLo already holds it in bf16
            if (b.maps == null) {
                df = dx.view(0, tokens, c);          // RC: the residual passes dx through; F's gradient is dx too
                dfRounded = rounded;
            } else {
                // only the bf16 GEMMs read df, so the merge rounds it (unless the bias kernel needs it in fp32)
                dfRounded = dFLo != null && (biasGradEpilogue || projBiasSummed);
                df = dfRounded ? dFLo : dF;
                b.maps.backwardMerge(dx, b.x, b.f, df, projBiasSummed ? b.dprojB : null, tokens);
            }
            tick("maps");
            DeviceTensor dfLo = dfRounded ? dFLo : lowp(df, dFLo == null ? df : dFLo);   // the GEMMs' operand
            tick("casts");
            if (projBiasSummed) mm.run(dfLo, true, b.act, false, b.dprojW, false);  // d proj_b came with df's pass
            else weightGrad(dfLo, b.act, b.dprojW, b.dprojB, df);             // d proj_w = dfᵀ · act, d proj_b = Σ df
            DeviceTensor dAct = b.attn ? dY : dU;
            mm.run(dfLo, false, b.projW, false, dAct, false);               // d act = df · proj_w
            tick("gemm");
            DeviceTensor dHidden;
            // d fc_b = Σ dhidden comes with the pass that writes dhidden (attention's backward, or the GELU's), so
            // d fc_w += dhiddenᵀ · ln is a plain GEMM: cuBLASLt's BGRADB epilogue made these two 30-35 % slower (H200)
            if (b.attn) {
                attention.backward(dY, b.hidden, b.act, b.lse, dQkv, b.dfcB, batch, time);
                dHidden = dQkv;
            } else {
                k.geluBackwardBias(dU, b.dfcB, dU, b.hidden, tokens, 4 * c);
                dHidden = dU;
            }
            tick(b.attn ? "attention" : "gelu");
            mm.run(dHidden, true, b.ln, false, b.dfcW, false);
            mm.run(dHidden, false, b.fcW, false, dLn, false);               // d ln = dhidden · fc_w
            tick("gemm");
            // RC: d x = d out + d h, added by the LayerNorm backward in place; the maps need d h on its own
            DeviceTensor belowProjBias = projBiasSummed && b.maps == null && i > 0 ? blocks.get(i - 1).dprojB : null;
            k.layerNormBackward(b.maps != null ? dH : dx, rounded && b.maps == null && i > 0 ? dFLo : null, b.dlnG, b.dlnB,
                    belowProjBias, dLn, b.h, b.lnG, b.mean, b.rstd, tokens, c, b.maps == null);
            tick("layernorm");
            if (b.maps != null) {
                b.maps.backwardAggregateKeeping(dx, dH, b.x, dPrev, tokens);
                DeviceTensor t = dx;
                dx = dPrev;
                dPrev = t;
                tick("maps");
            }
        }
        if (blocks.getFirst().maps != null) {        // every block's map parameter gradients in one launch
            StreamMaps.addGradients(blocks.stream().map(b -> b.maps).toList(), blocks.stream().map(b -> b.mapG).toList());
            tick("maps");
        }
        k.encoderBackward(view(grads, wte), view(grads, layout.get("wpe")), dx, ids, batch, time, c, n);
        tick("embedding");
    }

    /**
     * dW = dYᵀ·x and db = Σ_t dY: in one GEMM whose epilogue sums dY's columns as it reads them, or where cuBLASLt
     * lacks that epilogue, the bias kernel on dYFull (dY before its bf16 rounding) and a plain GEMM.
     */
    private void weightGrad(DeviceTensor dY, DeviceTensor x, DeviceTensor dW, DeviceTensor db, DeviceTensor dYFull) {
        if (biasGradEpilogue) {
            mm.run(dY, true, x, false, dW, false, Epilogue.BIAS_GRAD, db);
            return;
        }
        k.biasBackward(db, dYFull, tokens, (int) db.elements());
        tick("bias grads");
        mm.run(dY, true, x, false, dW, false);
    }

    /**
     * The parts of the gradient buffer a backward adds into, to zero before it: all but wte and the blocks' weight
     * matrices, which their GEMMs overwrite (zeroing the whole buffer, 0.5 GB at preset M, took 0.16 ms a step on the
     * H100, and the GEMMs then read what they added to). Padding between tensors is zeroed too: the norm reads it.
     */
    private List<DeviceTensor> addedGradients() {
        List<DeviceTensor> written = new ArrayList<>(List.of(view(grads, layout.get("wte"))));
        for (Block b : blocks) written.addAll(List.of(b.dfcW, b.dprojW));
        written.sort(Comparator.comparingLong(DeviceTensor::address));
        List<DeviceTensor> added = new ArrayList<>();
        long at = 0;
        for (DeviceTensor w : written) {
            long start = (w.address() - grads.address()) / Float.BYTES;
            if (start > at) added.add(grads.view(at, start - at));
            at = start + w.elements();
        }
        if (at < grads.elements()) added.add(grads.view(at, grads.elements() - at));
        return List.copyOf(added);
    }

    /** Whether every block's c_proj weight-gradient GEMM can sum its bias gradient in cuBLASLt's epilogue (BGRADB). */
    private boolean biasGradEpilogueEverywhere() {
        DeviceTensor dfLo = dFLo == null ? dF : dFLo;
        for (Block b : blocks)
            if (!mm.supports(dfLo, true, b.act, false, b.dprojW, true, Epilogue.BIAS_GRAD)) return false;
        return true;
    }

    /**
     * next = the streams leaving block b (forward, and the backward's rebuild): H_res·x + H_postᵀ f, or for RC
     * x + act·proj_wᵀ + proj_b in the projection GEMM's epilogue (no f in memory, and no pass to add it).
     */
    private void advance(Block b, DeviceTensor next) {
        if (b.maps != null) b.maps.merge(b.x, b.f, next, tokens);
        else mm.run(b.act, false, b.projW, true, next.view(0, tokens, c), b.x.view(0, tokens, c), Epilogue.BIAS, b.projB);
    }

    /** Recomputes the streams entering blocks first+1..last from the kept x of block first (no-op when group is 1). */
    private void rebuildStreams(int first, int last) {
        for (int j = first; j < last; j++) {
            Block b = blocks.get(j);
            DeviceTensor next = blocks.get(j + 1).x;
            advance(b, next);
        }
    }

    @Override
    public void close() {
        closeGraphs();
        for (Block b : blocks) if (b.maps != null) b.maps.close();
        attention.close();
        arena.close();
    }
}
