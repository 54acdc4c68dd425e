package hyperlab.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.gson.JsonObject;
import hyperlab.cuda.DType;
import hyperlab.cuda.Gpu;
import hyperlab.nn.GptConfig;
import hyperlab.nn.Paradigm;
import org.junit.jupiter.api.Test;

import java.util.Set;

class GpuBenchTest {
    private static final GptConfig TINY_MHC = GptConfig.preset("tiny").context(16).paradigm(Paradigm.MHC).streams(2);

    /** The GPU, or the CPU emulator; the test is skipped (not failed) without either. */
    private static Gpu device() {
        Gpu dev = TestDevices.gpuOrEmulator().orElse(null);
        assumeTrue(dev != null, TestDevices::why);
        return dev;
    }

    /** A bench row reports the model's own bytes for the recompute group it ran with; on the emulator no "device" memory. */
    @Test
    void rowCarriesTheGroupAndTheModelsBytes() {
        Gpu dev = device();
        GptConfig cfg = TINY_MHC;
        JsonObject row = GpuBench.measure(dev, cfg, 2, 16, 2, 1, 2, DType.F32, DType.F32, false, true);
        assertFalse(row.has("error"), row.toString());
        assertEquals(2, row.get("recompute_group").getAsInt());
        assertTrue(row.get("ms_per_step").getAsDouble() > 0, row.toString());
        long bytes;
        try (GpuGpt m = new GpuGpt(dev, cfg, 2, 16, 2)) {
            m.step(new int[32], new int[32], true);          // the attention scratch exists after a backward
            bytes = m.deviceBytes();
        }
        assertEquals(bytes, row.get("model_bytes").getAsLong());
        assertEquals(!dev.emulated(), row.has("device_memory_bytes"), "the emulator's heap is not device memory");
        assertTrue(row.has("mfu_vs_fp32_peak") && !row.has("mfu_vs_bf16_peak"), "an fp32 step is measured against the fp32 peak only: " + row);
    }

    /**
     * --stream-precision bf16: the row says how its streams were stored, and the model holds half the bytes for every
     * stream buffer (one per block, the final streams and the two gradient buffers) and for each block's sublayer input h
     * and output f (and for the maps' backward's dh), less the split copies of Φ_cat and r·dz its tensor-core kernels
     * read; RC's single residual stays fp32. bf16 streams without bf16 compute are refused.
     */
    @Test
    void bf16StreamRowsHalveTheStreamBuffers() {
        Gpu dev = device();
        GptConfig cfg = TINY_MHC;
        JsonObject wide = GpuBench.measure(dev, cfg, 2, 16, 2, 1, 1, DType.BF16, DType.F32, false, true);
        JsonObject narrow = GpuBench.measure(dev, cfg, 2, 16, 2, 1, 1, DType.BF16, DType.BF16, false, true);
        assertFalse(narrow.has("error"), narrow.toString());
        assertEquals("fp32", wide.get("stream_precision").getAsString());
        assertEquals("bf16", narrow.get("stream_precision").getAsString());
        long buffers = 2L * cfg.layers() + 1 + 2, streamElements = 2L * 16 * 2 * cfg.width();
        // each block's h and f, and the one dh buffer of the maps' backward, stored as the streams
        long rows = 2L * (2L * cfg.layers()) + 1, rowElements = 2L * 16 * cfg.width();
        // what bf16 streams add, per StreamMaps (two a layer): Φ_cat and r·dz split into bf16 high parts and remainders,
        // the projections' and the streams' backward's tensor-core operands: [nC][2·(M in n8 tiles)], [tokens][2·(M in k16 steps)]
        int m = new StreamMapsLayout(Paradigm.MHC, 2, cfg.width(), cfg.dynamic()).columns();
        long dzSplit = StreamMaps.tensorCoreBackward(Paradigm.MHC, 2, cfg.width(), cfg.dynamic()) ? 32L * 2 * ((m + 15) / 16 * 16) : 0;
        long splits = 2L * cfg.layers() * (2L * cfg.width() * 2 * ((m + 7) / 8 * 8) + dzSplit) * 2;
        assertEquals((buffers * streamElements + rows * rowElements) * 2 - splits,
                wide.get("model_bytes").getAsLong() - narrow.get("model_bytes").getAsLong());
        JsonObject rc = GpuBench.measure(dev, cfg.paradigm(Paradigm.RC).streams(1), 2, 16, 2, 1, 1, DType.BF16, DType.BF16, false, true);
        assertEquals("fp32", rc.get("stream_precision").getAsString());
        var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> new GpuGpt(dev, cfg, 2, 16, 1, DType.F32, DType.BF16));
        assertTrue(e.getMessage().contains("precision bf16"), e.getMessage());
    }

    /**
     * --profile: one step's time split into the named phases, the optimiser included. How the phases' sum compares
     * with a timed step is not asserted: on a GPU a tiny model's step is launch-bound and the events themselves cost
     * about as much as the work (H100: 2.2 ms profiled against 1.0 ms timed).
     */
    @Test
    void profileSplitsAStepIntoItsPhases() {
        Gpu dev = device();
        GptConfig cfg = TINY_MHC;
        JsonObject row = GpuBench.measure(dev, cfg, 2, 16, 2, 2, 1, DType.F32, DType.F32, true, true);
        assertFalse(row.has("error"), row.toString());
        JsonObject phases = row.getAsJsonObject("phases_ms");
        Set<String> named = Set.of("input copies", "casts", "embedding", "maps", "layernorm", "gemm", "attention", "gelu",
                "head and loss", "zero grads", "recompute", "bias grads", "optimizer");
        // "bias grads" only where cuBLASLt lacks the bias-gradient epilogue (the emulator has it): it may be absent
        for (String p : new String[] {"embedding", "maps", "layernorm", "gemm", "attention", "gelu", "head and loss", "optimizer"})
            assertTrue(phases.has(p), p + " in " + phases);
        for (var e : phases.entrySet()) {
            assertTrue(named.contains(e.getKey()), "unknown phase '" + e.getKey() + "' in " + phases);
            assertTrue(e.getValue().getAsDouble() >= 0 && Double.isFinite(e.getValue().getAsDouble()), e.getKey() + " in " + phases);
        }
        double sum = phases.entrySet().stream().mapToDouble(e -> e.getValue().getAsDouble()).sum();
        System.out.printf("profiled step %.1f ms in phases, timed steps %.1f ms: %s%n", sum, row.get("ms_per_step").getAsDouble(), phases);
        assertTrue(sum > 0, "the phases hold the step's time: " + phases);
    }

    /**
     * --profile's "gemms": the step's GEMMs by shape. Their FLOPs, summed from the shapes, are the linear layers' 6·tokens·
     * weights (forward, input gradient, weight gradient; the tied head counted once as a layer of vocab × width). Each
     * shape lists every call's time; on a GPU it also names the algorithm of each of its operand alignments.
     */
    @Test
    void profileNamesEveryGemmOfTheStep() {
        Gpu dev = device();
        GptConfig cfg = GptConfig.preset("tiny").context(16).paradigm(Paradigm.RC).streams(1);
        JsonObject row = GpuBench.measure(dev, cfg, 2, 16, 2, 1, 1, DType.F32, DType.F32, true, true);
        assertFalse(row.has("error"), row.toString());
        JsonObject gemms = row.getAsJsonObject("gemms");
        double flops = 0;
        int calls = 0;
        for (var e : gemms.entrySet()) {
            String[] mnk = e.getKey().split(" ")[0].split("x");
            double ms = e.getValue().getAsJsonObject().get("ms").getAsDouble(), tflops = e.getValue().getAsJsonObject().get("tflops").getAsDouble();
            assertTrue(ms > 0 && tflops > 0, e.toString());
            // a GPU names the cuBLASLt algorithm each shape ran (tuned: which candidate won, at what times); the emulator has none
            JsonObject plans = e.getValue().getAsJsonObject().getAsJsonObject("plans");
            assertEquals(dev.emulated(), plans.isEmpty(), e.toString());
            for (var p : plans.entrySet()) {
                String plan = p.getValue().getAsString();
                assertTrue(p.getKey().matches("align a\\d+ b\\d+ c\\d+") && plan.matches("algo [0-9a-f]{128}( pick \\d+ of ms \\[.*\\])?"), p.toString());
            }
            double one = 2.0 * Long.parseLong(mnk[0]) * Long.parseLong(mnk[1]) * Long.parseLong(mnk[2]);
            double total = tflops * 1e9 * ms;                           // the FLOPs of every call of this shape
            long n = Math.round(total / one);
            assertEquals(total, n * one, 1e-6 * total, "a whole number of calls of " + e.getKey());
            var each = e.getValue().getAsJsonObject().getAsJsonArray("calls_ms");   // one time per call, to 1e-4 ms
            assertEquals(n, each.size(), "a time for each call of " + e.getKey());
            double sum = 0;
            for (var t : each) sum += t.getAsDouble();
            assertEquals(ms, sum, 1e-4 * n, "the calls' times add up to the shape's");
            flops += total;
            calls += (int) n;
        }
        long c = cfg.width(), tokens = 2L * 16;
        double weights = cfg.layers() * 12.0 * c * c + (double) cfg.vocab() * c;
        System.out.printf("profiled %d GEMMs in %d shapes: %s%n", calls, gemms.size(), gemms);
        assertEquals(6 * tokens * weights, flops, 1e-6 * flops);
    }

    /**
     * The document made from the rows measured so far (what the shutdown hook prints when a time limit stops the run):
     * each row's ratio to RC's step at its precision and recompute setting and to its own paradigm without recomputation,
     * computed from real rows of the engine, and the mark that it is incomplete.
     */
    @Test
    void aStoppedRunStillReportsItsRowsAndRatios() {
        Gpu dev = device();
        GptConfig rc = GptConfig.preset("tiny").context(16).paradigm(Paradigm.RC);
        JsonObject header = new JsonObject();
        header.addProperty("device", dev.info().name());
        GpuBench.Results results = new GpuBench.Results(header, null, null);
        JsonObject rcRow = GpuBench.measure(dev, rc, 2, 16, 2, 1, 1, DType.F32, DType.F32, false, true);
        JsonObject mhcOff = GpuBench.measure(dev, TINY_MHC, 2, 16, 2, 1, 1, DType.F32, DType.F32, false, true);
        JsonObject mhcAuto = GpuBench.measure(dev, TINY_MHC, 2, 16, 2, 1, 2, DType.F32, DType.F32, false, true);
        rcRow.addProperty("recompute", "off");
        mhcOff.addProperty("recompute", "off");
        mhcAuto.addProperty("recompute", "2");
        for (JsonObject r : new JsonObject[] {rcRow, mhcOff, mhcAuto}) results.add(r);
        JsonObject doc = results.document(false);
        assertTrue(doc.get("incomplete").getAsString().contains("after 3 rows"), doc.toString());
        var rows = doc.getAsJsonArray("paradigms");
        assertEquals(3, rows.size());
        assertEquals(1.0, rows.get(0).getAsJsonObject().get("step_time_vs_rc").getAsDouble(), 0);
        assertEquals(mhcOff.get("ms_per_step").getAsDouble() / rcRow.get("ms_per_step").getAsDouble(),
                rows.get(1).getAsJsonObject().get("step_time_vs_rc").getAsDouble(), 1e-12);
        assertFalse(rows.get(2).getAsJsonObject().has("step_time_vs_rc"), "no RC row ran with recompute 2");
        assertEquals(mhcAuto.get("ms_per_step").getAsDouble() / mhcOff.get("ms_per_step").getAsDouble(),
                rows.get(2).getAsJsonObject().get("step_time_vs_no_recompute").getAsDouble(), 1e-12);
        assertEquals((double) mhcAuto.get("model_bytes").getAsLong() / mhcOff.get("model_bytes").getAsLong(),
                rows.get(2).getAsJsonObject().get("model_bytes_vs_no_recompute").getAsDouble(), 1e-12);
        assertFalse(results.document(true).has("incomplete"));
    }

    /**
     * --graphs on,off: each "on" row is held against the same work queued kernel by kernel, and the RC ratios stay
     * within one setting; a row says what was asked ("graphs") and what ran ("cuda_graphs").
     */
    @Test
    void graphRowsAreHeldAgainstTheSameWorkWithoutGraphs() {
        Gpu dev = device();
        GptConfig rc = GptConfig.preset("tiny").context(16).paradigm(Paradigm.RC);
        GpuBench.Results results = new GpuBench.Results(new JsonObject(), null, null);
        JsonObject rcOn = GpuBench.measure(dev, rc, 2, 16, 2, 1, 1, DType.F32, DType.F32, false, true);
        JsonObject rcOff = GpuBench.measure(dev, rc, 2, 16, 2, 1, 1, DType.F32, DType.F32, false, false);
        JsonObject mhcOn = GpuBench.measure(dev, TINY_MHC, 2, 16, 2, 1, 1, DType.F32, DType.F32, false, true);
        JsonObject mhcOff = GpuBench.measure(dev, TINY_MHC, 2, 16, 2, 1, 1, DType.F32, DType.F32, false, false);
        for (JsonObject r : new JsonObject[] {rcOn, rcOff, mhcOn, mhcOff}) {
            r.addProperty("recompute", "off");
            results.add(r);
        }
        var rows = results.document(true).getAsJsonArray("paradigms");
        double ms0 = rcOn.get("ms_per_step").getAsDouble(), ms1 = rcOff.get("ms_per_step").getAsDouble();
        double ms2 = mhcOn.get("ms_per_step").getAsDouble(), ms3 = mhcOff.get("ms_per_step").getAsDouble();
        JsonObject on = rows.get(2).getAsJsonObject(), off = rows.get(3).getAsJsonObject();
        assertEquals(ms2 / ms3, on.get("step_time_vs_graphs_off").getAsDouble(), 1e-12);
        assertFalse(off.has("step_time_vs_graphs_off"), off.toString());
        assertEquals(ms2 / ms0, on.get("step_time_vs_rc").getAsDouble(), 1e-12);
        assertEquals(ms3 / ms1, off.get("step_time_vs_rc").getAsDouble(), 1e-12);
        assertTrue(on.get("graphs").getAsString().equals("on") && on.get("cuda_graphs").getAsBoolean(), on.toString());
        assertTrue(off.get("graphs").getAsString().equals("off") && !off.get("cuda_graphs").getAsBoolean(), off.toString());
    }

    /** --out: a whole document replaces the file; a stopped run's goes next to it (FILE.incomplete) and leaves it alone. */
    @Test
    void aStoppedRunNeverReplacesTheRecord(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        Gpu dev = device();
        java.nio.file.Path file = dir.resolve("gpu-engine.json");
        java.nio.file.Files.writeString(file, "{\"record\": true}");
        JsonObject header = new JsonObject();
        header.addProperty("device", dev.info().name());
        JsonObject row = GpuBench.measure(dev, TINY_MHC, 2, 16, 2, 1, 1, DType.F32, DType.F32, false, true);
        row.addProperty("recompute", "off");
        GpuBench.Results stopped = new GpuBench.Results(header, null, file);
        stopped.add(row);
        stopped.print(false);
        assertEquals("{\"record\": true}", java.nio.file.Files.readString(file));
        var partial = com.google.gson.JsonParser.parseString(java.nio.file.Files.readString(dir.resolve("gpu-engine.json.incomplete"))).getAsJsonObject();
        assertTrue(partial.has("incomplete") && partial.getAsJsonArray("paradigms").size() == 1, partial.toString());
        GpuBench.Results whole = new GpuBench.Results(header, null, file);
        whole.add(row);
        whole.print(true);
        var written = com.google.gson.JsonParser.parseString(java.nio.file.Files.readString(file)).getAsJsonObject();
        assertFalse(written.has("incomplete"));
        assertEquals(row.get("ms_per_step").getAsFloat(), written.getAsJsonArray("paradigms").get(0).getAsJsonObject().get("ms_per_step").getAsFloat());
    }
}
