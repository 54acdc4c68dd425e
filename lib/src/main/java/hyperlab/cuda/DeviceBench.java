package hyperlab.cuda;

import org.w3c.dom.Element;
import org.w3c.dom.NodeList;

import javax.xml.parsers.DocumentBuilderFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

/**
 * The device report: benchmarks bf16 GEMM, device-to-device copy and launch overhead on GPU 0 and prints one JSON
 * document, folding in JUnit's XML report, the tests' accuracy metrics and a torch reference measured in the same run.
 * Usage: DeviceBench [--torch-tflops X] [--junit-xml FILE] [--metrics FILE]
 */
public final class DeviceBench {
    /** Nominal HBM bandwidth (read + write) of the SXM parts measured here, by name; other GPUs get no ratio. */
    static final Map<String, Double> HBM_PEAK_BYTES_PER_S = Map.of("H100", 3.35e12, "H200", 4.8e12);

    private DeviceBench() {
    }

    public static void main(String[] args) throws Exception {
        Double torchTflops = null;
        Path junit = null, metrics = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--torch-tflops" -> torchTflops = parseOrNull(args[++i]);
                case "--junit-xml" -> junit = Path.of(args[++i]);
                case "--metrics" -> metrics = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Json j = new Json();
        j.open();
        if (!Cuda.isAvailable()) {
            j.field("available", false).field("reason", Cuda.unavailableReason().orElse(""));
        } else {
            Gpu gpu = Cuda.gpu();
            DeviceInfo d = gpu.info();
            j.field("available", true).raw("device", new Json().open().field("name", d.name()).field("arch", d.arch())
                    .field("sm_count", d.smCount()).field("memory_bytes", d.totalMemoryBytes()).close());
            Json libs = new Json().open();
            for (Map.Entry<String, String> e : Cuda.libraries().entrySet()) libs.field(e.getKey(), e.getValue());
            j.raw("libraries", libs.close());
        }
        if (junit != null && Files.exists(junit)) j.raw("tests", junitSummary(junit));
        if (metrics != null && Files.exists(metrics)) {
            j.raw("accuracy", "[" + String.join(",", Files.readAllLines(metrics).stream().filter(s -> !s.isBlank()).toList()) + "]");
        }
        if (Cuda.isAvailable()) j.raw("bench", bench(Cuda.gpu(), torchTflops));
        System.out.println(j.close());
    }

    private static Double parseOrNull(String s) {
        try {
            return Double.parseDouble(s);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static String bench(Gpu gpu, Double torchTflops) {
        Json b = new Json().open();
        b.raw("gemm_bf16", attempt(() -> {
            double gemm = gemmTflops(gpu, DType.BF16, 8192, 50);
            Json g = new Json().open().field("m_n_k", 8192).field("tflops", gemm);
            if (torchTflops != null) {
                g.field("torch_same_run_tflops", torchTflops).field("ratio_to_torch_same_run", gemm / torchTflops);
            }
            return g.close();
        }));
        b.raw("gemm_f32", attempt(() -> new Json().open().field("m_n_k", 4096)
                .field("tflops", gemmTflops(gpu, DType.F32, 4096, 10)).close()));
        b.raw("copy_d2d", attempt(() -> copyBench(gpu, 1L << 30)));
        b.raw("launch", attempt(() -> launchBench(gpu)));
        return b.close();
    }

    /** One benchmark's JSON, or {"error": ...} so one failure does not lose the rest of the report. */
    private static String attempt(java.util.function.Supplier<String> bench) {
        try {
            return bench.get();
        } catch (RuntimeException e) {
            return new Json().open().field("error", e.toString()).close();
        }
    }

    static double gemmTflops(Gpu gpu, DType t, int s, int iters) {
        try (DeviceArena arena = gpu.arena()) {
            Random r = new Random(7);
            float[] host = new float[s * s];
            for (int i = 0; i < host.length; i++) host[i] = (float) r.nextGaussian();
            DeviceTensor a = arena.alloc(t, s, s).copyFrom(host), b = arena.alloc(t, s, s).copyFrom(host);
            DeviceTensor c = arena.alloc(t, s, s);
            Matmul mm = gpu.matmul();
            for (int i = 0; i < 5; i++) mm.run(a, b, c);
            float ms = gpu.time(() -> {
                for (int i = 0; i < iters; i++) mm.run(a, b, c);
            });
            return 2.0 * s * s * (double) s * iters / (ms * 1e-3) / 1e12;
        }
    }

    /** Bandwidth counts bytes read plus bytes written (2 × size per copy), the convention behind the HBM peak. */
    static String copyBench(Gpu gpu, long bytes) {
        int iters = 20;
        try (DeviceArena arena = gpu.arena()) {
            DeviceTensor src = arena.zeros(DType.U8, bytes), dst = arena.zeros(DType.U8, bytes);
            for (int i = 0; i < 3; i++) gpu.copy(dst, src, bytes);
            float msCopy = gpu.time(() -> {
                for (int i = 0; i < iters; i++) gpu.copy(dst, src, bytes);
            });
            CudaFunction k = Cuda.compileResource("hyperlab/cuda/kernels.cu").function("copy_f4");
            long n4 = bytes / 16;
            Dim3 grid = Dim3.cover(n4, 256), block = Dim3.of(256);
            for (int i = 0; i < 3; i++) k.launch(grid, block, 0, src, dst, n4);
            float msKernel = gpu.time(() -> {
                for (int i = 0; i < iters; i++) k.launch(grid, block, 0, src, dst, n4);
            });
            double memcpy = 2.0 * bytes * iters / (msCopy * 1e-3), kernel = 2.0 * bytes * iters / (msKernel * 1e-3);
            Json j = new Json().open().field("bytes", bytes).field("memcpy_dtod_tb_per_s", memcpy / 1e12)
                    .field("copy_kernel_tb_per_s", kernel / 1e12).field("counts", "read + write bytes");
            Double peak = hbmPeak(gpu.info().name());
            if (peak != null) j.field("nominal_peak_tb_per_s", peak / 1e12).field("memcpy_ratio_to_peak", memcpy / peak)
                    .field("copy_kernel_ratio_to_peak", kernel / peak);
            return j.close();
        }
    }

    /** The nominal HBM peak of a GPU named like "NVIDIA H200", or null for one not in the table. */
    static Double hbmPeak(String name) {
        for (Map.Entry<String, Double> e : HBM_PEAK_BYTES_PER_S.entrySet())
            if (name.matches(".*\\b" + e.getKey() + "\\b.*")) return e.getValue();
        return null;
    }

    /** Host wall time per cuLaunchKernel of an empty kernel from Java (queue kept busy), and one launch+sync round trip. */
    static String launchBench(Gpu gpu) {
        CudaFunction empty = Cuda.compileResource("hyperlab/cuda/kernels.cu").function("empty");
        Dim3 one = Dim3.of(1), block = Dim3.of(32);
        for (int i = 0; i < 20_000; i++) empty.launch(one, block, 0);
        gpu.synchronize();
        int n = 100_000;
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++) empty.launch(one, block, 0);
        gpu.synchronize();
        double perLaunchUs = (System.nanoTime() - t0) / 1e3 / n;
        int m = 2_000;
        long t1 = System.nanoTime();
        for (int i = 0; i < m; i++) {
            empty.launch(one, block, 0);
            gpu.synchronize();
        }
        double roundTripUs = (System.nanoTime() - t1) / 1e3 / m;
        return new Json().open().field("empty_kernel_launch_us", perLaunchUs).field("launches", n)
                .field("launch_plus_sync_us", roundTripUs).close();
    }

    private static String junitSummary(Path xml) throws Exception {
        var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder().parse(xml.toFile());
        Element suite = doc.getDocumentElement();
        NodeList cases = suite.getElementsByTagName("testcase");
        List<String> entries = new ArrayList<>();
        for (int i = 0; i < cases.getLength(); i++) {
            Element c = (Element) cases.item(i);
            String status = c.getElementsByTagName("failure").getLength() > 0 ? "failed"
                    : c.getElementsByTagName("error").getLength() > 0 ? "error"
                    : c.getElementsByTagName("skipped").getLength() > 0 ? "skipped" : "passed";
            String cls = c.getAttribute("classname");
            entries.add(new Json().open().field("test", cls.substring(cls.lastIndexOf('.') + 1) + "." + c.getAttribute("name"))
                    .field("status", status).close());
        }
        return new Json().open().field("tests", Integer.parseInt(suite.getAttribute("tests")))
                .field("failures", Integer.parseInt(suite.getAttribute("failures")))
                .field("errors", Integer.parseInt(suite.getAttribute("errors")))
                .field("skipped", Integer.parseInt(suite.getAttribute("skipped")))
                .raw("cases", "[" + String.join(",", entries) + "]").close();
    }

    /** Just enough JSON writing for the report, so the library needs no JSON dependency. */
    static final class Json {
        private final StringBuilder sb = new StringBuilder();
        private boolean first = true;

        Json open() {
            sb.append('{');
            return this;
        }

        String close() {
            return sb.append('}').toString();
        }

        Json raw(String name, String json) {
            sb.append(first ? "" : ",").append('"').append(name).append("\":").append(json);
            first = false;
            return this;
        }

        Json field(String name, String v) {
            return raw(name, quote(v));
        }

        Json field(String name, boolean v) {
            return raw(name, Boolean.toString(v));
        }

        Json field(String name, long v) {
            return raw(name, Long.toString(v));
        }

        Json field(String name, double v) {
            return raw(name, Double.isFinite(v) ? String.format(Locale.ROOT, "%.4g", v) : "null");
        }

        static String quote(String s) {
            StringBuilder q = new StringBuilder("\"");
            for (char ch : s.toCharArray()) {
                switch (ch) {
                    case '"' -> q.append("\\\"");
                    case '\\' -> q.append("\\\\");
                    case '\n' -> q.append("\\n");
                    default -> {
                        if (ch < 0x20) q.append(String.format("\\u%04x", (int) ch));
                        else q.append(ch);
                    }
                }
            }
            return q.append('"').toString();
        }
    }
}
