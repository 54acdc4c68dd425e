package hyperlab.gpu;

import hyperlab.cuda.Cuda;
import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import hyperlab.cuda.Gpu;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * Times {@link Attention} forward and forward+backward on the GPT engine's preset-M shapes (B = 16, T = 1024,
 * 12 heads, d = 64) and prints one JSON object with ms, TFLOP/s (causal FLOPs: forward 2·B·h·T²·d, backward 2.5×
 * that) and the speed relative to PyTorch's {@code F.scaled_dot_product_attention(is_causal=True)} on the same GPU.
 * <p>
 * PyTorch's numbers come in as arguments, from the script this class prints with {@code --torch-script}:
 * <pre>
 * java ... hyperlab.gpu.AttentionBench --torch-script &gt; t.py &amp;&amp; python3 t.py &gt; torch.args
 * java ... hyperlab.gpu.AttentionBench $(cat torch.args)
 * </pre>
 * Options: --emulator (defaults B = 1, T = 130, 2 heads, 1 iteration), --batch, --time, --heads, --head-dim, --iters
 * (BF16; F32 runs a fifth of them), --backward-tilings LIST (the tensor-core backward's keys per block x blocks per SM
 * [x keys per warp] to time, e.g. 64x3,128x2x32: one BF16 row each; default the engine's choice), --forward-tilings LIST
 * (the tensor-core forward's queries per warp x keys per tile x blocks per SM, e.g. 16x64x4,32x64x2; default the
 * engine's choice; one BF16 row per pair of tilings),
 * --torch-KEY VALUE (any number of them, copied into the JSON's "torch" object; bf16-fwd-ms, bf16-fwdbwd-ms, f32-fwd-ms,
 * f32-fwdbwd-ms are used for the ratios).
 */
public final class AttentionBench {
    private AttentionBench() {
    }

    /** Times PyTorch SDPA the nanoGPT way (q, k, v split from one qkv [B, T, 3C]) and prints --torch-* arguments. */
    static String torchScript(int b, int t, int h, int d) {
        return """
                import sys, torch, torch.nn.functional as F
                from torch.nn.attention import sdpa_kernel, SDPBackend
                B, T, H, D = %d, %d, %d, %d
                C = H * D
                def split(qkv):
                    q, k, v = qkv.split(C, dim=2)
                    return [z.view(B, T, H, D).transpose(1, 2) for z in (q, k, v)]
                def timed(fn, iters):
                    for _ in range(3): fn()
                    torch.cuda.synchronize()
                    s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    s.record()
                    for _ in range(iters): fn()
                    e.record(); torch.cuda.synchronize()
                    return s.elapsed_time(e) / iters
                out = ["--torch-version", torch.__version__.split("+")[0], "--torch-gpu", torch.cuda.get_device_name().replace(" ", "_")]
                for name, dtype, backend, iters in (("bf16", torch.bfloat16, SDPBackend.FLASH_ATTENTION, 50),
                                                    ("f32", torch.float32, None, 10)):
                    try:
                        qkv = torch.randn(B, T, 3 * C, device="cuda", dtype=dtype, requires_grad=True)
                        dy = torch.randn(B, H, T, D, device="cuda", dtype=dtype)
                        def fwd():
                            return F.scaled_dot_product_attention(*split(qkv), is_causal=True)
                        def fwdbwd():
                            y = fwd()
                            return torch.autograd.grad(y, qkv, dy)
                        ctx = lambda: sdpa_kernel(backend if backend is not None else
                                                  [SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH])
                        with ctx(), torch.no_grad():
                            f = timed(fwd, iters)
                        with ctx():
                            fb = timed(fwdbwd, iters)
                        out += ["--torch-%%s-fwd-ms" %% name, "%%.5f" %% f, "--torch-%%s-fwdbwd-ms" %% name, "%%.5f" %% fb]
                        if backend is None:
                            out += ["--torch-%%s-backend" %% name, "default"]
                        else:
                            out += ["--torch-%%s-backend" %% name, "flash"]
                        del qkv, dy
                    except Exception as ex:
                        print("torch %%s failed: %%s" %% (name, ex), file=sys.stderr)
                print(" ".join(out))
                """.formatted(b, t, h, d);
    }

    public static void main(String[] args) {
        int batch = 16, time = 1024, heads = 12, headDim = 64, iters = 20;
        boolean emulator = false;
        List<Attention.BackwardTiling> tilings = new ArrayList<>();
        List<Attention.ForwardTiling> forwardTilings = new ArrayList<>();
        Map<String, String> torch = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--torch-script" -> {
                    System.out.print(torchScript(batch, time, heads, headDim));
                    return;
                }
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--time" -> time = Integer.parseInt(args[++i]);
                case "--heads" -> heads = Integer.parseInt(args[++i]);
                case "--head-dim" -> headDim = Integer.parseInt(args[++i]);
                case "--iters" -> iters = Integer.parseInt(args[++i]);
                case "--emulator" -> emulator = true;
                case "--backward-tilings" -> Arrays.stream(args[++i].split(",")).map(Attention.BackwardTiling::parse).forEach(tilings::add);
                case "--forward-tilings" -> Arrays.stream(args[++i].split(",")).map(Attention.ForwardTiling::parse).forEach(forwardTilings::add);
                default -> {
                    if (!a.startsWith("--torch-") || i + 1 >= args.length) throw new IllegalArgumentException("unknown option " + a);
                    torch.put(a.substring("--torch-".length()), args[++i]);
                }
            }
        }
        if (emulator) {   // a smoke test of this class without a GPU: preset M's shape would take the emulator an hour
            List<String> given = Arrays.asList(args);
            if (!given.contains("--batch")) batch = 1;
            if (!given.contains("--time")) time = 130;
            if (!given.contains("--heads")) heads = 2;
            if (!given.contains("--iters")) iters = 1;
        }
        if (tilings.isEmpty()) tilings.add(Attention.BackwardTiling.of(headDim));
        if (forwardTilings.isEmpty()) forwardTilings.add(Attention.ForwardTiling.of(headDim));
        Gpu gpu = emulator ? Cuda.emulator() : Cuda.gpu();
        double fwdFlops = Attention.forwardFlops(batch, heads, time, headDim), bwdFlops = 2.5 * fwdFlops;
        List<String> rows = new ArrayList<>();
        String consistency;
        int c = heads * headDim;
        Random r = new Random(1);
        float[] qkvHost = new float[batch * time * 3 * c], dyHost = new float[batch * time * c];
        for (int i = 0; i < qkvHost.length; i++) qkvHost[i] = (float) r.nextGaussian();
        for (int i = 0; i < dyHost.length; i++) dyHost[i] = (float) r.nextGaussian();
        for (float[] x : new float[][] {qkvHost, dyHost})   // bf16-exact, so F32 and BF16 runs see the same inputs
            for (int i = 0; i < x.length; i++) x[i] = DType.bf16ToFloat(DType.floatToBf16(x[i]));
        try (DeviceArena a = gpu.arena()) {
            Map<String, float[][]> outputs = new LinkedHashMap<>();
            record Tilings(Attention.ForwardTiling forward, Attention.BackwardTiling backward) {
                @Override
                public String toString() {
                    return forward + "/" + backward;
                }
            }
            List<Tilings> configs = new ArrayList<>();   // one BF16 row each; null: the F32 row
            for (Attention.ForwardTiling f : forwardTilings)
                for (Attention.BackwardTiling bt : tilings) configs.add(new Tilings(f, bt));
            configs.add(null);
            for (Tilings tiling : configs) {
                DType t = tiling == null ? DType.F32 : DType.BF16;
                boolean tc = t == DType.BF16 && headDim % 16 == 0;
                try (Attention att = tc ? new Attention(gpu, heads, headDim, t, true, tiling.forward(), tiling.backward())
                        : new Attention(gpu, heads, headDim, t)) {
                    DeviceTensor qkv = a.of(t, qkvHost, batch, time, 3L * c), dy = a.of(t, dyHost, batch, time, c);
                    DeviceTensor y = a.alloc(t, batch, time, c), lse = a.alloc(DType.F32, batch, heads, time);
                    DeviceTensor dqkv = a.alloc(t, batch, time, 3L * c);
                    int n = t == DType.F32 ? Math.max(2, iters / 5) : iters;
                    final int bb = batch, tt = time;
                    Runnable fwd = () -> att.forward(qkv, y, lse, bb, tt);
                    Runnable both = () -> {
                        att.forward(qkv, y, lse, bb, tt);
                        att.backward(dy, qkv, y, lse, dqkv, bb, tt);
                    };
                    for (int w = 0; w < 2; w++) both.run();
                    gpu.synchronize();
                    float fwdMs = gpu.time(() -> {
                        for (int k = 0; k < n; k++) fwd.run();
                    }) / n;
                    float bothMs = gpu.time(() -> {
                        for (int k = 0; k < n; k++) both.run();
                    }) / n;
                    outputs.put(t + (tc ? "/" + tiling : ""), new float[][] {y.toFloatArray(), dqkv.toFloatArray()});
                    String key = t == DType.BF16 ? "bf16" : "f32";
                    double bwdMs = bothMs - fwdMs;
                    StringBuilder sb = new StringBuilder();
                    sb.append("{\"dtype\": \"").append(t).append("\", \"kernels\": \"")
                            .append(att.tensorCores() ? "mma.sync m16n8k16 bf16, fp32 accumulation" : "SIMT fp32").append("\", ")
                            .append(att.tensorCores() ? "\"forward_tiling\": \"" + att.forwardTiling() + "\", " : "")
                            .append(att.tensorCores() ? "\"backward_tiling\": \"" + att.backwardTiling() + "\", " : "")
                            .append("\"iters\": ").append(n).append(", ")
                            .append(num("fwd_ms", fwdMs)).append(num("fwd_tflops", fwdFlops / fwdMs / 1e9))
                            .append(num("bwd_ms", bwdMs)).append(num("bwd_tflops", bwdFlops / bwdMs / 1e9))
                            .append(num("fwdbwd_ms", bothMs)).append(num("fwdbwd_tflops", (fwdFlops + bwdFlops) / bothMs / 1e9));
                    Double tf = number(torch.get(key + "-fwd-ms")), tb = number(torch.get(key + "-fwdbwd-ms"));
                    sb.append(num("torch_fwd_ms", tf)).append(num("torch_fwdbwd_ms", tb))
                            .append(num("speed_vs_torch_fwd", tf == null ? null : tf / fwdMs))
                            .append(num("speed_vs_torch_fwdbwd", tb == null ? null : tb / bothMs));
                    rows.add(sb.substring(0, sb.length() - 2) + "}");
                    qkv.close();
                    dy.close();
                    y.close();
                    lse.close();
                    dqkv.close();
                }
            }
            float[][] f32 = outputs.remove(DType.F32.toString());
            List<String> diffs = new ArrayList<>();
            outputs.forEach((name, bf) -> diffs.add("\"" + name + "\": {\"y\": " + fmt(relDiff(bf[0], f32[0])) + ", \"dqkv\": "
                    + fmt(relDiff(bf[1], f32[1])) + "}"));
            consistency = "{" + String.join(", ", diffs) + "}";
        }
        StringBuilder json = new StringBuilder("{\n");
        json.append("  \"bench\": \"attention\",\n");
        json.append("  \"device\": \"").append(gpu.info().name()).append("\",\n");
        json.append("  \"shape\": {\"batch\": ").append(batch).append(", \"time\": ").append(time).append(", \"heads\": ")
                .append(heads).append(", \"head_dim\": ").append(headDim).append(", \"causal\": true},\n");
        json.append("  \"flops\": {\"fwd\": ").append(fmt(fwdFlops)).append(", \"bwd\": ").append(fmt(bwdFlops))
                .append(", \"note\": \"causal: fwd 2*B*h*T^2*d, bwd 2.5x fwd\"},\n");
        json.append("  \"torch\": {");
        List<String> tv = new ArrayList<>();
        torch.forEach((k, v) -> tv.add("\"" + k + "\": " + (k.endsWith("-ms") && number(v) != null ? v : "\"" + v + "\"")));
        json.append(String.join(", ", tv)).append("},\n");
        json.append("  \"speed_vs_torch\": \"torch ms / our ms (> 1: faster than torch)\",\n");
        json.append("  \"hyperlab\": [\n    ").append(String.join(",\n    ", rows)).append("\n  ],\n");
        json.append("  \"bf16_vs_f32_rel_diff\": ").append(consistency).append("\n}");
        System.out.println(json);
    }

    private static double relDiff(float[] a, float[] b) {
        double num = 0, den = 0;
        for (int i = 0; i < a.length; i++) {
            num += (a[i] - (double) b[i]) * (a[i] - (double) b[i]);
            den += (double) b[i] * b[i];
        }
        return Math.sqrt(num / Math.max(den, 1e-300));
    }

    private static Double number(String s) {
        if (s == null) return null;
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String num(String key, Number v) {
        return "\"" + key + "\": " + (v == null ? "null" : fmt(v.doubleValue())) + ", ";
    }

    private static String fmt(double v) {
        if (Double.isNaN(v) || Double.isInfinite(v)) return "null";
        return Math.abs(v) >= 1e6 ? String.format(Locale.ROOT, "%.6e", v) : String.format(Locale.ROOT, "%.4f", v);
    }
}
