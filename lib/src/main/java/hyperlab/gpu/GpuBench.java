package hyperlab.gpu;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import hyperlab.cuda.Cuda;
import hyperlab.cuda.DType;
import hyperlab.cuda.Gpu;
import hyperlab.cuda.Timeline;
import hyperlab.nn.GptConfig;
import hyperlab.nn.Paradigm;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The GPU engine's training-step benchmark: per paradigm, ms per step (forward, backward, norm, AdamW), tokens/s,
 * MFU and device memory in use, with each paradigm's step time relative to RC measured in the same run, and a
 * PyTorch reference (from a JSON file made in the same device command) folded in. Prints one JSON document; stopped by
 * SIGTERM (a device command's time limit), the rows measured so far, marked {@code incomplete}. {@code --out FILE}
 * also writes it to FILE (e.g. data/bench/gpu-engine-h100.json), or to FILE.incomplete when stopped, so a cut run
 * never replaces a whole record.
 * With {@code --recompute off,auto} every paradigm is measured with each setting in the same run, so the time that
 * recomputation costs and the memory it saves come as ratios against the same paradigm without it; likewise
 * {@code --precision bf16,fp32} (default bf16, the mixed-precision engine) measures both precisions, each row's
 * ratio to RC taken at its own precision, and {@code --stream-precision fp32,bf16} measures each hyper-connected
 * paradigm with its streams stored both ways (RC, one residual, runs once). {@code --profile} adds each row's time per
 * phase of one step (queued kernel by kernel: phases cannot be timed inside a CUDA graph). {@code --warmup N} untimed
 * steps come before each row's timed ones (the JVM compiles the host code that queues a step while they run, and the
 * second step captures the CUDA graph the timed ones replay; {@code -Dhyperlab.gpu.graphs=false} times them queued
 * kernel by kernel, as does {@code --graphs off}; {@code --graphs on,off} measures every row both ways, in turn, and
 * gives each "on" row its "step_time_vs_graphs_off"). Each row also says whether its steps replayed a graph
 * ("cuda_graphs") and how long the host took to queue one forward and backward ("host_queue_ms") against the time
 * until its loss was back ("host_forward_backward_ms"): close to each other when the host, not the GPU, sets the pace.
 * Usage: GpuBench [--preset M] [--batch 16] [--time 1024] [--warmup 2] [--steps 10] [--streams 4] [--paradigms rc,hc,mhc,mhc-lite,shc]
 *                 [--recompute off|auto|g[,...]] [--precision bf16|fp32[,...]] [--stream-precision fp32|bf16[,...]]
 *                 [--graphs on|off[,...]] [--torch FILE] [--out FILE] [--emulator] [--profile]
 */
public final class GpuBench {
    /** Dense peaks of the H100 SXM, which the H200 shares (same chip and clocks, more memory bandwidth). */
    static final double H100_BF16_DENSE_TFLOPS = 989.4, H100_FP32_TFLOPS = 66.9;

    private GpuBench() {
    }

    public static void main(String[] args) throws Exception {
        String preset = "M", paradigms = "rc,hc,mhc,mhc-lite,shc", recompute = "off", precision = "bf16", streamPrecision = "fp32";
        String graphs = GpuGpt.graphsByDefault() ? "on" : "off";
        int batch = 16, time = 1024, warmup = 2, steps = 10, streams = 4;
        Path torch = null, outFile = null;
        boolean emulator = false, profile = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--preset" -> preset = args[++i];
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--time" -> time = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--streams" -> streams = Integer.parseInt(args[++i]);
                case "--paradigms" -> paradigms = args[++i];
                case "--recompute" -> recompute = args[++i];
                case "--precision" -> precision = args[++i];
                case "--stream-precision" -> streamPrecision = args[++i];
                case "--graphs" -> graphs = args[++i];
                case "--torch" -> torch = Path.of(args[++i]);
                case "--out" -> outFile = Path.of(args[++i]);
                case "--emulator" -> emulator = true;
                case "--profile" -> profile = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]
                        + "; usage: GpuBench [--preset M] [--batch 16] [--time 1024] [--warmup 2] [--steps 10] [--streams 4]"
                        + " [--paradigms rc,hc,mhc,mhc-lite,shc] [--recompute off|auto|g[,...]] [--precision bf16|fp32[,...]]"
                        + " [--stream-precision fp32|bf16[,...]] [--graphs on|off[,...]] [--torch FILE] [--out FILE] [--emulator] [--profile]");
            }
        }
        for (String g : graphs.split(","))
            if (!g.trim().equals("on") && !g.trim().equals("off"))
                throw new IllegalArgumentException("--graphs " + graphs + ": use on, off, or on,off (each row measured both ways)");
        Gpu gpu = emulator ? Cuda.emulator() : GpuEngine.gpu();
        JsonObject out = new JsonObject();
        out.addProperty("device", gpu.info().name());
        out.addProperty("precision_note", "fp32: cuBLASLt COMPUTE_32F GEMMs and SIMT attention on fp32 activations; bf16: bf16"
                + " GEMM and attention operands (tensor cores) with fp32 accumulation, fp32 master weights and AdamW; the n-stream"
                + " residual of hc/mhc/mhc-lite/shc and its gradient, and each sublayer's input h, its gradient and its output f, stored"
                + " as stream_precision says (fp32 or bf16; every sum fp32), RC's residual in fp32");
        out.addProperty("preset", preset);
        out.addProperty("batch", batch);
        out.addProperty("time", time);
        out.addProperty("warmup_steps", warmup);
        out.addProperty("timed_steps", steps);
        if (outFile != null && outFile.toAbsolutePath().getParent() != null && !Files.isDirectory(outFile.toAbsolutePath().getParent()))
            throw new IllegalArgumentException("--out " + outFile + ": no directory " + outFile.toAbsolutePath().getParent()
                    + " to write it in; create it or name another file");
        Results results = new Results(out, torch, outFile);
        // `timeout` stops a device command with SIGTERM: the document still comes out, with the rows measured so far
        Thread partial = new Thread(() -> results.print(false), "gpu-bench-partial");
        Runtime.getRuntime().addShutdownHook(partial);
        for (String prec : precision.split(","))
            for (String p : paradigms.split(",")) {
                DType dtype = GpuGpt.dtypeOf(prec);
                Paradigm par = Paradigm.parse(p.trim());
                GptConfig cfg = GptConfig.preset(preset).paradigm(par);
                if (par != Paradigm.RC) cfg = cfg.streams(streams);
                String[] sps = streamPrecision.split(",");
                for (int si = 0; si < sps.length; si++)
                for (String rec : recompute.split(",")) {
                    DType sp = GpuGpt.dtypeOf(sps[si]);
                    if (par == Paradigm.RC && si > 0) continue;                // RC's residual is fp32 whatever sp says
                    if (sp == DType.BF16 && dtype != DType.BF16) continue;     // bf16 streams belong to mixed precision
                    int group = GpuGpt.recomputeGroup(rec, 2 * cfg.layers());
                    for (String g : graphs.split(",")) {
                        JsonObject row = measure(gpu, cfg, batch, time, warmup, steps, group, dtype, sp, profile, g.trim().equals("on"));
                        row.addProperty("recompute", rec.trim());
                        results.add(row);
                        System.err.println("gpu-bench: " + row);
                    }
                }
            }
        results.print(true);
    }

    /**
     * The rows measured so far and the document they make: each row's step time against RC's at the same precision and
     * recompute setting, and against the same paradigm without recomputation, plus the PyTorch lines of {@code torch}.
     * Printed once: complete at the end of the run, or, from the shutdown hook, marked incomplete.
     */
    static final class Results {
        private final JsonObject header;
        private final Path torch, file;
        private final List<JsonObject> rows = new ArrayList<>();
        private boolean printed;

        /** file: where the document also goes (null: stdout only); an incomplete one goes to file + ".incomplete". */
        Results(JsonObject header, Path torch, Path file) {
            this.header = header;
            this.torch = torch;
            this.file = file;
        }

        synchronized void add(JsonObject row) {
            rows.add(row);
        }

        synchronized void print(boolean complete) {
            if (printed) return;
            printed = true;
            String json = new GsonBuilder().setPrettyPrinting().create().toJson(document(complete));
            System.out.println(json);
            System.out.flush();
            if (file == null) return;
            Path target = complete ? file : file.resolveSibling(file.getFileName() + ".incomplete");
            try {                                             // whole or not at all: a temporary file, then a rename
                Path tmp = Files.createTempFile(target.toAbsolutePath().getParent(), ".gpu-bench", ".json");
                Files.writeString(tmp, json + "\n");
                Files.move(tmp, target, java.nio.file.StandardCopyOption.REPLACE_EXISTING, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                System.err.println("gpu-bench: wrote " + target);
            } catch (java.io.IOException e) {
                System.err.println("gpu-bench: could not write " + target + " (" + e + "); the document is on stdout above");
            }
        }

        synchronized JsonObject document(boolean complete) {
            Map<String, Double> rcMs = new HashMap<>(), plainMs = new HashMap<>(), graphsOffMs = new HashMap<>();
            Map<String, Long> plainBytes = new HashMap<>();
            for (JsonObject r : rows) {
                if (!r.has("ms_per_step")) continue;
                double ms = r.get("ms_per_step").getAsDouble();
                if (r.get("paradigm").getAsString().equals(Paradigm.RC.key())) rcMs.put(rcKey(r), ms);
                if (r.get("recompute_group").getAsInt() == 1) {
                    plainMs.put(plainKey(r), ms);
                    plainBytes.put(plainKey(r), r.get("model_bytes").getAsLong());
                }
                if (r.get("graphs").getAsString().equals("off")) graphsOffMs.put(sameWorkKey(r), ms);
            }
            JsonObject out = header.deepCopy();
            if (!complete)
                out.addProperty("incomplete", "the run was stopped (SIGTERM, e.g. a time limit) after " + rows.size()
                        + " rows: these are the rows it had measured");
            var arr = new com.google.gson.JsonArray();
            for (JsonObject row : rows) {
                JsonObject r = row.deepCopy();
                if (r.has("ms_per_step")) {
                    double ms = r.get("ms_per_step").getAsDouble();
                    Double rc = rcMs.get(rcKey(r)), plain = plainMs.get(plainKey(r));
                    if (rc != null) r.addProperty("step_time_vs_rc", ms / rc);
                    Double off = graphsOffMs.get(sameWorkKey(r));
                    if (off != null && r.get("graphs").getAsString().equals("on")) r.addProperty("step_time_vs_graphs_off", ms / off);
                    if (plain != null && r.get("recompute_group").getAsInt() > 1) {
                        r.addProperty("step_time_vs_no_recompute", ms / plain);
                        r.addProperty("model_bytes_vs_no_recompute", r.get("model_bytes").getAsDouble() / plainBytes.get(plainKey(r)));
                    }
                }
                arr.add(r);
            }
            out.add("paradigms", arr);
            if (torch != null && Files.exists(torch)) {       // one JSON object per line, as torch_gpt_bench.py prints them
                var t = new com.google.gson.JsonArray();
                try {
                    for (String line : Files.readAllLines(torch)) if (line.startsWith("{")) t.add(JsonParser.parseString(line));
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException("cannot read the PyTorch reference " + torch, e);
                }
                out.add("torch_same_run", t);
            }
            return out;
        }

        /** The RC row a row's step time is held against: same precision, recompute and graphs setting. */
        private static String rcKey(JsonObject r) {
            return r.get("precision").getAsString() + "/" + r.get("recompute").getAsString() + "/" + r.get("graphs").getAsString();
        }

        /** The row without recomputation a row is held against: same precision, paradigm, streams and graphs setting. */
        private static String plainKey(JsonObject r) {
            return r.get("precision").getAsString() + "/" + r.get("paradigm").getAsString() + "/" + r.get("stream_precision").getAsString()
                    + "/" + r.get("graphs").getAsString();
        }

        /** Rows that queue the same work, with or without a graph: same precision, paradigm, streams and recompute setting. */
        private static String sameWorkKey(JsonObject r) {
            return r.get("precision").getAsString() + "/" + r.get("paradigm").getAsString() + "/" + r.get("stream_precision").getAsString()
                    + "/" + r.get("recompute").getAsString();
        }
    }

    /**
     * The second of two steps with events around each GEMM: {shape: {"ms", "tflops", "calls_ms", "plans"}} in the order the step first
     * ran them; "calls_ms" is each call's time in step order, "plans" the algorithm (and its tuning times) that each
     * operand alignment of the shape runs in this process.
     */
    private static JsonObject gemmProfile(Gpu gpu, Runnable step) {
        // two steps, the second kept: in a process's first such step one c_attn call took 1.4 ms against 0.09 for
        // every other call and in later rows (ab-5ec999d-h100.json), a first-use cost rather than the GEMM's
        Map<String, Double> flops = Map.of();
        Map<String, List<Double>> stretches = Map.of();
        for (int pass = 0; pass < 2; pass++)
            try (Timeline t = gpu.timeline()) {
                flops = new LinkedHashMap<>();
                gpu.matmul().profile(t, flops);
                try {
                    step.run();
                } finally {
                    gpu.matmul().profile(null, null);
                }
                stretches = t.stretches();
            }
        JsonObject gemms = new JsonObject();
        Map<String, Double> shapeFlops = flops;
        Map<String, String> made = gpu.matmul().plans();       // every plan of the process, once for all shapes
        stretches.forEach((name, calls) -> {
            if (name.equals("other")) return;
            double ms = calls.stream().mapToDouble(Double::doubleValue).sum();
            JsonObject g = new JsonObject();
            g.addProperty("ms", ms);
            g.addProperty("tflops", shapeFlops.get(name) / ms / 1e9);
            JsonArray each = new JsonArray();               // every call of the shape in step order: all slow, or one outlier
            calls.forEach(c -> each.add(Math.round(c * 1e4) / 1e4));
            g.add("calls_ms", each);
            JsonObject plans = new JsonObject();           // the algorithm each alignment of this shape runs
            made.forEach((key, plan) -> {
                if (key.startsWith(name + " align ")) plans.addProperty(key.substring(name.length() + 1), plan);
            });
            g.add("plans", plans);
            gemms.add(name, g);
        });
        return gemms;
    }

    /**
     * One paradigm: {@code warmup} steps, then {@code steps} timed steps on the GPU's clock, replaying a CUDA graph from
     * the second step on when {@code graphs} says so; an error is reported, not thrown.
     * With {@code profile}, one more step runs with GPU events between its phases and the row gets "phases_ms":
     * milliseconds per phase (GEMMs, attention, maps, layernorm, ..., optimizer) of that step; and one more with events
     * around each GEMM, for "gemms": ms and TFLOP/s of the step's GEMMs of each shape.
     */
    static JsonObject measure(Gpu gpu, GptConfig cfg, int batch, int time, int warmup, int steps, int group, DType precision, DType streams,
                              boolean profile, boolean graphs) {
        JsonObject row = new JsonObject();
        row.addProperty("paradigm", cfg.paradigm().key());
        row.addProperty("precision", GpuGpt.nameOf(precision));
        row.addProperty("stream_precision", GpuGpt.nameOf(GpuGpt.streamTypeFor(cfg, streams)));
        row.addProperty("streams", cfg.streams());
        row.addProperty("recompute_group", group);
        row.addProperty("graphs", graphs ? "on" : "off");             // asked for; "cuda_graphs" says whether the steps used one
        long before = gpu.memoryInfo()[0];
        try (GpuGpt model = new GpuGpt(gpu, cfg, batch, time, group, precision, streams);
             GpuAdamW opt = new GpuAdamW(model, 0.9, 0.95, 1e-8, 0.1, 1.0)) {
            model.useGraphs(graphs);
            Random r = new Random(1);
            int[] ids = new int[batch * time], targets = new int[batch * time];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = r.nextInt(cfg.vocab());
                targets[i] = r.nextInt(cfg.vocab());
            }
            Runnable step = () -> {
                model.step(ids, targets, true);
                opt.gradNorm();
                opt.step(6e-4);
            };
            for (int i = 0; i < warmup; i++) step.run();
            float ms = gpu.time(() -> {
                for (int i = 0; i < steps; i++) step.run();
            }) / steps;
            long used = before - gpu.memoryInfo()[0];          // after the steps: attention and optimiser state included
            row.addProperty("cuda_graphs", model.usesGraphs());
            // host time to queue one forward + backward from an idle GPU, and until its loss is back: close to each
            // other when the host, not the GPU, sets the pace (best of 3)
            double queueMs = Double.MAX_VALUE, lossMs = Double.MAX_VALUE;
            for (int i = 0; i < 3; i++) {
                gpu.synchronize();
                long t0 = System.nanoTime();
                model.queueStep(ids, targets, true);
                long t1 = System.nanoTime();
                model.meanLoss();
                long t2 = System.nanoTime();
                queueMs = Math.min(queueMs, (t1 - t0) / 1e6);
                lossMs = Math.min(lossMs, (t2 - t0) / 1e6);
            }
            row.addProperty("host_queue_ms", queueMs);
            row.addProperty("host_forward_backward_ms", lossMs);
            if (profile) {
                opt.gradNorm();                                // the profiled steps follow an update, as every timed step
                opt.step(6e-4);                                // does (whose bf16 weight copy spares the step its cast)
                model.useGraphs(false);                        // phases and GEMMs are timed kernel by kernel
                try (Timeline t = gpu.timeline()) {
                    model.profile(t);
                    step.run();
                    t.mark("optimizer");
                    model.profile(null);
                    JsonObject phases = new JsonObject();
                    t.totals().forEach(phases::addProperty);
                    row.add("phases_ms", phases);
                }
                row.add("gemms", gemmProfile(gpu, step));
                if (gpu.matmul().clockSettle() != null) row.addProperty("gemm_clock_settle", gpu.matmul().clockSettle());
            }
            long params = model.layout().count();
            double tokens = (double) batch * time;
            // nanoGPT's estimate: 6 FLOPs per parameter per token, plus attention 12·L·C·T per token
            double flops = 6.0 * params * tokens + 12.0 * cfg.layers() * cfg.width() * time * tokens;
            row.addProperty("params", params);
            row.addProperty("ms_per_step", ms);
            row.addProperty("tokens_per_s", tokens / (ms / 1e3));
            row.addProperty("tflops", flops / (ms / 1e3) / 1e12);
            // against the dense peak of the row's own precision (a bf16 step against the fp32 peak would read 3-4)
            if (precision == DType.BF16) row.addProperty("mfu_vs_bf16_peak", flops / (ms / 1e3) / 1e12 / H100_BF16_DENSE_TFLOPS);
            else row.addProperty("mfu_vs_fp32_peak", flops / (ms / 1e3) / 1e12 / H100_FP32_TFLOPS);
            if (!gpu.emulated()) row.addProperty("device_memory_bytes", used);   // the emulator's "device" is the JVM's heap
            row.addProperty("model_bytes", model.deviceBytes());
        } catch (RuntimeException e) {
            row.addProperty("error", e.toString());
        }
        return row;
    }
}
