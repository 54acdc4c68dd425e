package hyperlab.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Entry point: CUDA from Java through FFM. Libraries load on first use; without a GPU or driver the class still loads
 * and the first call throws one CudaException saying what is missing and how to fix it.
 * <pre>{@code
 * CudaModule m = Cuda.compile("""
 *     extern "C" __global__ void scale(float* x, float a, int n) {
 *       int i = blockIdx.x * blockDim.x + threadIdx.x; if (i < n) x[i] *= a; }""");
 * try (DeviceArena arena = Cuda.gpu().arena()) {
 *     DeviceTensor x = arena.of(DType.F32, new float[] {1, 2, 3});
 *     m.function("scale").launch(Dim3.cover(3, 256), Dim3.of(256), 0, x, 2f, 3);
 *     float[] y = x.toFloatArray();
 * }
 * }</pre>
 */
public final class Cuda {
    /** Default NVRTC program name, so errors read "cell.cu(3): error ...". */
    public static final String CELL = "cell.cu";

    private static Driver driver;
    private static CudaException driverFailure;
    private static Nvrtc nvrtc;
    private static CublasLt cublasLt;
    private static final Map<Integer, Gpu> GPUS = new LinkedHashMap<>();
    private static volatile CubinCache cache = CubinCache.standard();

    private Cuda() {
    }

    /** True when the driver loads, cuInit succeeds and a device exists; tests and notebooks skip GPU work otherwise. */
    public static boolean isAvailable() {
        return unavailableReason().isEmpty();
    }

    /** Why CUDA cannot be used here, or empty when it can. */
    public static synchronized Optional<String> unavailableReason() {
        try {
            if (deviceCount() > 0) return Optional.empty();
            return Optional.of("the CUDA driver loaded but reports no device");
        } catch (CudaException e) {
            return Optional.of(e.getMessage());
        }
    }

    static synchronized Driver driver() {
        if (driverFailure != null) throw new CudaException(driverFailure.getMessage(), driverFailure);
        if (driver == null) {
            try {
                driver = Driver.load();
            } catch (CudaException e) {
                driverFailure = e;
                throw e;
            }
        }
        return driver;
    }

    public static synchronized int deviceCount() {
        Driver d = driver();
        try (var a = java.lang.foreign.Arena.ofConfined()) {
            var n = a.allocate(java.lang.foreign.ValueLayout.JAVA_INT);
            d.call("cuDeviceGetCount", d.deviceGetCount, n);
            return n.get(java.lang.foreign.ValueLayout.JAVA_INT, 0);
        }
    }

    /** GPU 0. */
    public static Gpu gpu() {
        return gpu(0);
    }

    /** GPU {@code ordinal}, its primary context bound to the calling thread. */
    public static synchronized Gpu gpu(int ordinal) {
        Driver d = driver();
        int n = deviceCount();
        if (ordinal < 0 || ordinal >= n) {
            throw new CudaException("no CUDA device " + ordinal + (n == 0 ? ": none found. " + Driver.FIX : " (found " + n + ")"));
        }
        Gpu g = GPUS.computeIfAbsent(ordinal, o -> new Gpu(d, o));
        g.makeCurrent();
        return g;
    }

    private static Gpu emulator;

    /**
     * A "GPU" that runs kernels on the CPU through g++ and fibers (see {@code cuda_emu.h}): the same kernel sources,
     * launches and tensors, so code and tests written for a GPU also run where there is none. Slow; small shapes only.
     */
    public static synchronized Gpu emulator() {
        if (emulator == null) emulator = new Gpu(Emulator.load());
        return emulator;
    }

    private static boolean toldEmulated;

    /**
     * GPU 0 when there is one, else the CPU {@link #emulator()} (with a one-time notice on stderr): where notebook
     * cells and {@link #compile(String, String...)} run, so the same cells work with and without a GPU.
     */
    public static synchronized Gpu device() {
        if (isAvailable()) return gpu();
        Gpu emu = emulator();
        if (!toldEmulated) {
            toldEmulated = true;
            System.err.println("hyperlab.cuda: no usable GPU (" + unavailableReason().orElse("") + "); kernels run on the CPU"
                    + " emulator: same results, far slower");
        }
        return emu;
    }

    /** Why the emulator cannot run here (no C++ compiler), or empty when it can. */
    public static Optional<String> emulatorUnavailableReason() {
        try {
            emulator();
            return Optional.empty();
        } catch (CudaException e) {
            return Optional.of(e.getMessage());
        }
    }

    /** Compiles a classpath resource for {@code gpu} (a real one or the emulator). */
    public static CudaModule compileResource(Gpu gpu, String resource, String... options) {
        return compile(gpu, resource.substring(resource.lastIndexOf('/') + 1), source(resource), options);
    }

    /** The text of a CUDA source on the class path (e.g. "hyperlab/gpu/bf16.cuh"), to compile alone or with others. */
    public static String source(String resource) {
        try (InputStream in = Cuda.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) throw new CudaException("no CUDA source resource " + resource + " on the class path");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static synchronized Nvrtc nvrtc() {
        if (nvrtc == null) nvrtc = Nvrtc.load();
        return nvrtc;
    }

    static synchronized CublasLt cublasLt() {
        if (cublasLt == null) cublasLt = CublasLt.load();
        return cublasLt;
    }

    /** Compiles CUDA C++ as program "cell.cu" for {@link #device()} (GPU 0, cubin cached on disk; else the emulator). */
    public static CudaModule compile(String source, String... options) {
        return compile(device(), CELL, source, options);
    }

    /** Compiles a classpath resource (e.g. "hyperlab/cuda/kernels.cu") for {@link #device()}; errors name the resource's file. */
    public static CudaModule compileResource(String resource, String... options) {
        return compileResource(device(), resource, options);
    }

    /**
     * Compiles {@code source} for {@code gpu}'s architecture with NVRTC and loads the cubin. The options are NVRTC's
     * (e.g. "-use_fast_math", "-DN=4"); "-arch=sm_XY" of the device, "-std=c++17" and the toolkit's include directory
     * (for cuda_bf16.h) are added unless given.
     */
    public static CudaModule compile(Gpu gpu, String programName, String source, String... options) {
        if (gpu.emulated()) return new CudaModule(gpu, gpu.emu.compile(programName, source, options));
        List<String> opts = effectiveOptions(gpu.info().arch(), options);
        Nvrtc c = nvrtc();
        String key = CubinCache.key(source, programName, opts, gpu.info().arch(), c.version());
        Optional<byte[]> hit = cache.get(key);
        if (hit.isPresent()) {
            try {
                return new CudaModule(gpu, hit.get(), true, "");
            } catch (CudaException unloadable) {
                // a damaged cache entry: compile afresh and overwrite it
            }
        }
        Nvrtc.Output out = c.compile(source, programName, opts);
        if (out.isCubin()) cache.put(key, out.image());
        return new CudaModule(gpu, out.image(), false, out.log());
    }

    /** PTX text for {@code source} (compiled for compute_XY of GPU 0), e.g. to inspect what NVRTC generated. */
    public static String ptx(String source, String... options) {
        String arch = gpu().info().arch().replace("sm_", "compute_");
        List<String> opts = new ArrayList<>(List.of(options));
        opts.add("-arch=" + arch);
        byte[] img = nvrtc().compile(source, CELL, effectiveOptions(arch, opts.toArray(String[]::new))).image();
        return new String(img, 0, Math.max(0, img.length - 1), StandardCharsets.UTF_8);
    }

    static List<String> effectiveOptions(String arch, String... options) {
        List<String> opts = new ArrayList<>(List.of(options));
        if (opts.stream().noneMatch(o -> o.startsWith("-arch") || o.startsWith("--gpu-architecture"))) opts.add("-arch=" + arch);
        if (opts.stream().noneMatch(o -> o.startsWith("-std") || o.startsWith("--std"))) opts.add("-std=c++17");
        for (String inc : List.of("/usr/local/cuda/include", System.getenv().getOrDefault("CUDA_HOME", "/usr/local/cuda") + "/include")) {
            if (Files.isDirectory(Path.of(inc)) && !opts.contains("-I" + inc)) opts.add("-I" + inc);
        }
        return opts;
    }

    /** Which native libraries were loaded (e.g. libnvrtc.so.13 vs .12) and their versions, for reports. */
    public static synchronized Map<String, String> libraries() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("driver", driver().lib.loadedName() + " (CUDA " + driver().version() + ")");
        try {
            m.put("nvrtc", nvrtc().lib.loadedName() + " (" + nvrtc().version() + ")");
        } catch (CudaException e) {
            m.put("nvrtc", "missing: " + e.getMessage());
        }
        try {
            m.put("cublasLt", cublasLt().lib.loadedName() + " (" + cublasLt().version() + ")");
        } catch (CudaException e) {
            m.put("cublasLt", "missing: " + e.getMessage());
        }
        return m;
    }

    /** Points the cubin cache elsewhere (tests use a temporary directory). */
    static synchronized void useCache(Path dir) {
        cache = new CubinCache(dir);
    }
}
