package hyperlab.gpu;

import hyperlab.cuda.Cuda;
import hyperlab.cuda.CudaFunction;
import hyperlab.cuda.CudaModule;
import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.cuda.Dim3;
import hyperlab.cuda.Gpu;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Typed launchers for the engine's element-wise and row kernels (encoder, layernorm, gelu, classifier, adamw .cu). */
final class Kernels {
    static final float LN_EPS = 1e-5f;            // DJL's LayerNorm default, which the CPU engine uses
    static final int NORM_PARTS = 1024;           // blocks of the sum-of-squares pass
    static final int LN_SHARED_FLOATS = 12288;    // 48 KiB: the LayerNorm backward's per-warp dgamma/dbeta slices

    private final CudaFunction encFwd, encFwdBf16, encBwdWte, encBwdWteBf16, encBwdWpe, encBwdWpeBf16, meanFwd, meanFwdBf16, meanBwd,
            meanBwdBf16;
    private final CudaFunction lnFwd, lnFwdBf16, lnFwdBf16X, geluFwd, geluFwdBf16, geluBwdBias, geluBwdBiasBf16, biasBwd, biasBwdBf16, toBf16;
    private final CudaFunction ceFwdBwd, ceFwdBwdBf16, ceFwdBwdBf16Regs, ceFwd, ceFwdBf16, sumsqPartial, sumsqFinish, adamw;
    /** layernorm.cu: its plain compile, and by K the builds whose backward keeps rows of up to 128·K columns in registers. */
    private final CudaModule lnModule;
    private final Map<Integer, CudaModule> lnBwdRegs = new HashMap<>();
    /** At most 8 chunks; layernorm.cu compiled without -DLN_BWD_K holds the kernel for 6 (C = 768, preset M). */
    static final int LN_REGS_MAX_CHUNKS = 8, LN_REGS_DEFAULT_CHUNKS = 6;
    private final Gpu gpu;
    private final int smCount;

    Kernels(Gpu gpu) {
        CudaModule enc = withHeaders(gpu, "encoder.cu");
        CudaModule ln = withHeaders(gpu, "layernorm.cu");
        CudaModule gelu = withHeaders(gpu, "gelu.cu");
        CudaModule cls = withHeaders(gpu, "classifier.cu");
        CudaModule opt = withHeaders(gpu, "adamw.cu");
        CudaModule precision = withHeaders(gpu, "precision.cu");
        encFwd = enc.function("encoder_forward");
        encFwdBf16 = enc.function("encoder_forward_bf16");
        encBwdWte = enc.function("encoder_backward_wte");
        encBwdWteBf16 = enc.function("encoder_backward_wte_bf16");
        encBwdWpe = enc.function("encoder_backward_wpe");
        encBwdWpeBf16 = enc.function("encoder_backward_wpe_bf16");
        meanFwd = enc.function("stream_mean_forward");
        meanFwdBf16 = enc.function("stream_mean_forward_bf16");
        meanBwd = enc.function("stream_mean_backward");
        meanBwdBf16 = enc.function("stream_mean_backward_bf16");
        lnFwd = ln.function("layernorm_forward");
        lnFwdBf16 = ln.function("layernorm_forward_bf16");
        lnFwdBf16X = ln.function("layernorm_forward_bf16_xbf16");
        lnModule = ln;
        lnBwdRegs.put(LN_REGS_DEFAULT_CHUNKS, ln);   // no second compile for that width
        this.gpu = gpu;
        smCount = Math.max(1, gpu.info().smCount());
        geluFwd = gelu.function("gelu_forward");
        geluFwdBf16 = gelu.function("gelu_forward_bf16");
        geluBwdBias = gelu.function("gelu_backward_bias");
        geluBwdBiasBf16 = gelu.function("gelu_backward_bias_bf16");
        biasBwd = gelu.function("bias_backward");
        biasBwdBf16 = gelu.function("bias_backward_bf16");
        toBf16 = precision.function("to_bf16");
        ceFwdBwd = cls.function("crossentropy_forward_backward");
        ceFwdBwdBf16 = cls.function("crossentropy_forward_backward_bf16");
        ceFwdBwdBf16Regs = cls.function("crossentropy_forward_backward_bf16_regs");
        ceFwd = cls.function("crossentropy_forward");
        ceFwdBf16 = cls.function("crossentropy_forward_bf16");
        sumsqPartial = opt.function("sumsq_partial");
        sumsqFinish = opt.function("sumsq_finish");
        adamw = opt.function("adamw_update");
    }

    /** Header files a kernel source asks for with "needs a.cuh", "needs a.cuh and b.cuh" or "needs a.cuh, b.cuh and c.cuh" (its first such phrase). */
    private static final Pattern NEEDS = Pattern.compile("needs \\w+\\.cuh(?:(?:, | and )\\w+\\.cuh)*");
    private static final Pattern HEADER = Pattern.compile("\\w+\\.cuh");

    /**
     * A kernel source of hyperlab/gpu compiled with {@code options}, with the shared headers it names (bf16.cuh,
     * async.cuh, mma.cuh) in front; lib/bin/nvcc-check.sh includes the same ones.
     */
    static CudaModule withHeaders(Gpu gpu, String file, String... options) {
        String source = Cuda.source("hyperlab/gpu/" + file);
        StringBuilder all = new StringBuilder();
        for (String h : headersNamed(source)) all.append(Cuda.source("hyperlab/gpu/" + h)).append('\n');
        return Cuda.compile(gpu, file, all.append(source).toString(), options);
    }

    /**
     * The {@code count} ints that {@code function}, a one-thread kernel of module m, writes: how that build cuts its
     * launches (threads, shared memory, tokens a block), which only the module's compile-time options decide.
     */
    static int[] launchShape(Gpu gpu, CudaModule m, String function, int count) {
        try (DeviceArena a = gpu.arena(); DeviceTensor out = a.zeros(DType.I32, count)) {
            m.function(function).launch(Dim3.of(1), Dim3.of(1), 0, out);
            return out.toIntArray();
        }
    }

    /** The headers {@code source}'s first "needs ..." phrase names, in order (none without one). */
    static List<String> headersNamed(String source) {
        Matcher m = NEEDS.matcher(source);
        if (!m.find()) return List.of();
        List<String> names = new ArrayList<>();
        for (Matcher h = HEADER.matcher(m.group()); h.find(); ) names.add(h.group());
        return names;
    }

    private static boolean bf16(DeviceTensor t) {
        return t.dtype() == DType.BF16;
    }

    private static Dim3 cover(long count) {
        return Dim3.cover(count, 256);
    }

    /** x (the n streams: F32 or BF16) = the token plus position embedding, copied into every stream. */
    void encoderForward(DeviceTensor x, DeviceTensor ids, DeviceTensor wte, DeviceTensor wpe, int tokens, int time, int c, int n) {
        (bf16(x) ? encFwdBf16 : encFwd).launch(cover((long) tokens * c), Dim3.of(256), 0, x, ids, wte, wpe, tokens, time, c, n);
    }

    /** Adds the embedding gradients of the streams' gradient dx (F32 or BF16) into dwte and dwpe. */
    void encoderBackward(DeviceTensor dwte, DeviceTensor dwpe, DeviceTensor dx, DeviceTensor ids, int batch, int time, int c, int n) {
        int tokens = batch * time;
        int v = c % 4 == 0 ? vector(4, dwte, dx) : 1;     // 4 columns a thread: one vector reduction instead of four atomics
        (bf16(dx) ? encBwdWteBf16 : encBwdWte).launch(cover((long) tokens * c / v), Dim3.of(256), 0, dwte, dx, ids, tokens, c, n, v);
        (bf16(dx) ? encBwdWpeBf16 : encBwdWpe).launch(cover((long) time * c), Dim3.of(256), 0, dwpe, dx, batch, time, c, n);
    }

    /** out (F32) = the mean of the n streams x (F32 or BF16). */
    void streamMean(DeviceTensor out, DeviceTensor x, int tokens, int c, int n) {
        (bf16(x) ? meanFwdBf16 : meanFwd).launch(cover((long) tokens * c), Dim3.of(256), 0, out, x, tokens, c, n);
    }

    /** dx (the streams' gradient: F32 or BF16) = dout / n in every stream. */
    void streamMeanBackward(DeviceTensor dx, DeviceTensor dout, int tokens, int c, int n) {
        (bf16(dx) ? meanBwdBf16 : meanBwd).launch(cover((long) tokens * c), Dim3.of(256), 0, dx, dout, tokens, c, n);
    }

    void layerNorm(DeviceTensor out, DeviceTensor mean, DeviceTensor rstd, DeviceTensor x, DeviceTensor gamma,
                   DeviceTensor beta, int rows, int c) {
        if (bf16(x) && !bf16(out))
            throw new IllegalArgumentException("LayerNorm of bf16 x writes bf16 (for the GEMMs), not " + out.dtype());
        int v = c % 4 == 0 ? vector(4, out, x, gamma, beta) : 1;
        (bf16(x) ? lnFwdBf16X : bf16(out) ? lnFwdBf16 : lnFwd).launch(Dim3.cover(rows, 8), Dim3.of(256), 0, out, mean, rstd, x, gamma, beta, rows, c, LN_EPS, v);
    }

    /** Overwrites dx, or with {@code accumulate} adds into it; adds into dgamma and dbeta. */
    void layerNormBackward(DeviceTensor dx, DeviceTensor dgamma, DeviceTensor dbeta, DeviceTensor dout, DeviceTensor x,
                           DeviceTensor gamma, DeviceTensor mean, DeviceTensor rstd, int rows, int c, boolean accumulate) {
        layerNormBackward(dx, null, dgamma, dbeta, null, dout, x, gamma, mean, rstd, rows, c, accumulate);
    }

    /**
     * The same, and where dxLo (BF16, the shape of dx) is not null, dx rounded to bf16 into it: written as the row
     * leaves registers where the row fits there, else by a cast after. dout is F32 or BF16, x F32 or (with a BF16
     * dout) BF16; dx is F32, or BF16 (overwritten, dxLo null) where x and dout are BF16: bf16 streams' dh. Where dsum
     * (F32 [c]) is not null, it gets the column sums of dx added: RC's residual gradient is the gradient of the c_proj
     * output below, so this is that projection's bias gradient, and its weight-gradient GEMM needs no BGRADB epilogue.
     */
    void layerNormBackward(DeviceTensor dx, DeviceTensor dxLo, DeviceTensor dgamma, DeviceTensor dbeta, DeviceTensor dsum,
                           DeviceTensor dout, DeviceTensor x, DeviceTensor gamma, DeviceTensor mean, DeviceTensor rstd,
                           int rows, int c, boolean accumulate) {
        if (c > LN_SHARED_FLOATS / 2)
            throw new IllegalArgumentException("LayerNorm width " + c + " > " + LN_SHARED_FLOATS / 2 + ": the backward keeps 2·width floats per warp in shared memory");
        if (dxLo != null && (dxLo.dtype() != DType.BF16 || dxLo.elements() != dx.elements()))
            throw new IllegalArgumentException("dxLo must be BF16 with dx's " + dx.elements() + " elements, not " + dxLo.dtype() + " with " + dxLo.elements());
        if (dsum != null && (dsum.dtype() != DType.F32 || dsum.elements() != c))
            throw new IllegalArgumentException("dsum must be F32 with " + c + " elements (one per column), not " + dsum);
        int warps = Math.min(8, LN_SHARED_FLOATS / (2 * c));
        int shared = warps * (dsum == null ? 2 : 3) * c * Float.BYTES;   // per-warp slices: dgamma, dbeta (and dsum)
        int v = c % 4 == 0 ? vector(4, dx, dout, x, gamma, dgamma, dbeta) : 1;   // the block's end adds 4 columns at once
        if (dxLo != null && vector(4, dxLo) != 4 || dsum != null && vector(4, dsum) != 4) v = 1;
        if (bf16(x) && !bf16(dout))
            throw new IllegalArgumentException("the LayerNorm backward of bf16 x takes a bf16 dout (the bf16 engine's), not " + dout.dtype());
        boolean narrow = bf16(dx);                    // dx in bf16 only
        if (narrow && (dxLo != null || accumulate || !bf16(x)))
            throw new IllegalArgumentException("a bf16 dx is written alone (no dxLo, no accumulate), for bf16 x and dout");
        String types = (bf16(dout) ? "_dbf16" : "") + (bf16(x) ? "_xbf16" : "");   // what differs from fp32, as layernorm.cu names it
        int chunks = (c + 127) / 128;
        if (v == 4 && chunks <= LN_REGS_MAX_CHUNKS) {   // rows in registers: more warps in flight, each row read once
            // accumulating: one wave (measured 0.0789 ms against 0.0811 for two at preset M); else two
            int waves = accumulate ? 1 : 2;
            int blocks = Math.min(waves * lnBackwardBlocksPerSm(chunks, accumulate) * smCount, (rows + warps - 1) / warps);
            CudaFunction f = lnBwdRegs.computeIfAbsent(chunks, kk -> withHeaders(gpu, "layernorm.cu", "-DLN_BWD_K=" + kk))
                    .function("layernorm_backward_regs_k" + (accumulate ? "_acc" : "") + types);
            lnShared(f).launch(Dim3.of(blocks), Dim3.of(32 * warps), shared, narrow ? 0L : dx,
                    narrow ? dx : dxLo == null ? 0L : dxLo, dgamma, dbeta, dsum == null ? 0L : dsum, dout, x, gamma, mean, rstd,
                    rows, c);
            return;
        }
        int blocks = Math.min(264, (rows + warps - 1) / warps);   // each block ends with 2·width atomics: few blocks
        lnShared(lnModule.function("layernorm_backward" + types + (narrow ? "_obf16" : ""))).launch(Dim3.of(blocks),
                Dim3.of(32 * warps), shared, dx, dgamma, dbeta, dsum == null ? 0L : dsum, dout, x, gamma, mean, rstd, rows, c,
                accumulate ? 1 : 0, v);
        if (dxLo != null) toBf16(dxLo, dx, dx.elements());
    }

    /**
     * The 8-warp blocks of layernorm_backward_regs_k one SM holds: its __launch_bounds__ for chunks = LN_BWD_K (the
     * accumulating kernel also holds the row's dx in registers).
     */
    static int lnBackwardBlocksPerSm(int chunks, boolean accumulate) {
        return chunks <= 6 && !accumulate ? 3 : 2;
    }

    /** f, opted in once to the LayerNorm backward's most shared memory: warps · 3 slices · width ≤ 1.5 · LN_SHARED_FLOATS floats. */
    private CudaFunction lnShared(CudaFunction f) {
        return f.allowSharedMemory(LN_SHARED_FLOATS * 3 / 2 * Float.BYTES);
    }

    void gelu(DeviceTensor out, DeviceTensor x, long count) {
        int v = vector(16 / out.dtype().bytes(), out, x);
        (bf16(out) ? geluFwdBf16 : geluFwd).launch(cover((count + v - 1) / v), Dim3.of(256), 0, out, x, count, v);
    }

    /**
     * dx = dout·gelu'(x) for [rows, cols] tensors (dx may be dout), and dbias [cols] += the column sums of dx as stored:
     * the bias gradient of the layer before the GELU, in the same pass (its weight-gradient GEMM then needs no epilogue).
     */
    void geluBackwardBias(DeviceTensor dx, DeviceTensor dbias, DeviceTensor dout, DeviceTensor x, int rows, int cols) {
        int v = rowVector(cols, dx, dout, x);
        (bf16(dx) ? geluBwdBiasBf16 : geluBwdBias).launch(columnTiles(rows, cols, v), Dim3.of(32, 8), 0, dx, dbias, dout, x, rows, cols, v);
    }

    /** Adds the column sums of dout [rows, cols] (F32 or BF16) into dbias [cols]. */
    void biasBackward(DeviceTensor dbias, DeviceTensor dout, int rows, int cols) {
        int v = rowVector(cols, dout);
        (bf16(dout) ? biasBwdBf16 : biasBwd).launch(columnTiles(rows, cols, v), Dim3.of(32, 8), 0, dbias, dout, rows, cols, v);
    }

    /** The grid of the column-sum kernels: 32·v columns per block, rows in up to 512 chunks of at least 128. */
    static Dim3 columnTiles(int rows, int cols, int v) {
        return Dim3.of((cols + 32 * v - 1) / (32 * v), Math.max(1, Math.min(512, rows / 128)));
    }

    /** {@code width} (elements per vector access) where every tensor starts on a width-element boundary, else 1. */
    static int vector(int width, DeviceTensor... ts) {
        for (DeviceTensor t : ts) if (t.address() % ((long) width * t.dtype().bytes()) != 0) return 1;
        return width;
    }

    /** out = x rounded to bfloat16 (out BF16, x F32, {@code count} elements of each). */
    void toBf16(DeviceTensor out, DeviceTensor x, long count) {
        toBf16.launch(Dim3.cover((count + 3) / 4, 256), Dim3.of(256), 0, out, x, count);
    }

    /** Per-row losses, and logits overwritten by d(scale·Σ losses)/d logits. */
    void crossEntropyForwardBackward(DeviceTensor logits, DeviceTensor losses, DeviceTensor targets, int rows, int vocab, float scale) {
        int v = rowVector(vocab, logits);
        int threads = ceRegisterThreads(bf16(logits), v, vocab);
        if (threads > 0)
            ceFwdBwdBf16Regs.launch(Dim3.of(rows), Dim3.of(threads), 0, logits, losses, targets, vocab, scale);
        else
            (bf16(logits) ? ceFwdBwdBf16 : ceFwdBwd).launch(Dim3.of(rows), Dim3.of(512), 0, logits, losses, targets, vocab, scale, v);
    }

    /** 16-byte chunks of a row one thread of crossentropy_forward_backward_bf16_regs holds (CE_CHUNKS in classifier.cu). */
    static final int CE_CHUNKS = 8;

    /**
     * Threads a block for the cross-entropy that keeps its row in registers (a thread a 16-byte chunk, at most 1024,
     * a multiple of 32), or 0 where the row cannot take it: fp32 logits, unaligned rows, or more than 1024 · 8 chunks.
     */
    static int ceRegisterThreads(boolean bf16, int vector, int vocab) {
        int chunks = vocab / 8;
        if (!bf16 || vector != 8 || chunks > 1024 * CE_CHUNKS) return 0;
        return Math.min(1024, (chunks + 31) / 32 * 32);
    }

    void crossEntropy(DeviceTensor logits, DeviceTensor losses, DeviceTensor targets, int rows, int vocab) {
        (bf16(logits) ? ceFwdBf16 : ceFwd).launch(Dim3.of(rows), Dim3.of(512), 0, logits, losses, targets, vocab,
                rowVector(vocab, logits));
    }

    /** Elements per 16-byte access over rows of {@code cols} elements of ts (one dtype): every row must start aligned. */
    static int rowVector(int cols, DeviceTensor... ts) {
        int w = 16 / ts[0].dtype().bytes();
        return cols % w == 0 ? vector(w, ts) : 1;
    }

    /** out[0] = ‖g‖₂ over its first {@code count} elements; partial must hold NORM_PARTS floats. */
    void norm(DeviceTensor out, DeviceTensor partial, DeviceTensor g, long count) {
        sumsqPartial.launch(Dim3.of(NORM_PARTS), Dim3.of(256), 0, partial, g, count, vector(4, g));
        sumsqFinish.launch(Dim3.of(1), Dim3.of(256), 0, out, partial, NORM_PARTS);
    }

    /** AdamW over {@code count} elements; {@code lo} (BF16, or null) gets the new weights rounded to bf16 as well. */
    void adamw(DeviceTensor p, DeviceTensor lo, DeviceTensor g, DeviceTensor m, DeviceTensor v, long count, float lr, float beta1,
               float beta2, float c1, float c2, float eps, float wd, DeviceTensor norm, float maxNorm) {
        if (count == 0) return;
        if (lo != null && (lo.dtype() != DType.BF16 || lo.elements() < count))
            throw new IllegalArgumentException("lo is " + lo + ": at least " + count + " BF16 elements are required");
        int vec = lo == null ? vector(4, p, g, m, v) : vector(4, p, lo, g, m, v);
        adamw.launch(cover((count + vec - 1) / vec), Dim3.of(256), 0, p, lo == null ? 0L : lo, g, m, v, count, lr, beta1, beta2,
                c1, c2, eps, wd, norm, maxNorm, vec);
    }
}
