package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/** Compiled device code loaded into a GPU's context (cuModuleLoadData); its kernels are looked up by name. */
public final class CudaModule implements AutoCloseable {
    private final Gpu gpu;
    private final MemorySegment module;
    private final boolean fromCache;
    private final String compileLog;
    private final Map<String, CudaFunction> functions = new HashMap<>();

    CudaModule(Gpu gpu, byte[] image, boolean fromCache, String compileLog) {
        this.gpu = gpu;
        this.fromCache = fromCache;
        this.compileLog = compileLog;
        gpu.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment img = a.allocate(image.length + 1L, 16);
            MemorySegment.copy(image, 0, img, JAVA_BYTE, 0, image.length);
            MemorySegment out = a.allocate(ADDRESS);
            gpu.drv.call("cuModuleLoadData", gpu.drv.moduleLoadData, out, img);
            module = out.get(ADDRESS, 0);
        }
    }

    /** The kernel {@code name}; declare it {@code extern "C" __global__} so its name is not mangled. */
    public synchronized CudaFunction function(String name) {
        return functions.computeIfAbsent(name, n -> {
            gpu.makeCurrent();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ADDRESS);
                gpu.drv.call("cuModuleGetFunction(\"" + n + "\")", gpu.drv.moduleGetFunction, out, module, a.allocateFrom(n));
                return new CudaFunction(gpu, n, out.get(ADDRESS, 0));
            }
        });
    }

    /** Whether the cubin came from the disk cache rather than a fresh NVRTC compile. */
    public boolean fromCache() {
        return fromCache;
    }

    /** NVRTC's log of a successful compile (its warnings); empty when the cubin came from the cache. */
    public String compileLog() {
        return compileLog;
    }

    @Override
    public void close() {
        gpu.makeCurrent();
        gpu.drv.call("cuModuleUnload", gpu.drv.moduleUnload, module);
    }
}
