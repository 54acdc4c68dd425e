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
    private final MemorySegment module;      // null when emulated
    private final Emulator.Library emulated; // null on a real GPU
    private final boolean fromCache;
    private final String compileLog;
    private final Map<String, CudaFunction> functions = new HashMap<>();

    CudaModule(Gpu gpu, byte[] image, boolean fromCache, String compileLog) {
        this.gpu = gpu;
        this.fromCache = fromCache;
        this.compileLog = compileLog;
        this.emulated = null;
        gpu.makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment img = a.allocate(image.length + 1L, 16);
            MemorySegment.copy(image, 0, img, JAVA_BYTE, 0, image.length);
            MemorySegment out = a.allocate(ADDRESS);
            gpu.drv.call("cuModuleLoadData", gpu.drv.moduleLoadData, out, img);
            module = out.get(ADDRESS, 0);
        }
    }

    CudaModule(Gpu gpu, Emulator.Library lib) {
        this.gpu = gpu;
        this.fromCache = false;
        this.compileLog = "";
        this.module = null;
        this.emulated = lib;
    }

    /** The kernel {@code name}; declare it {@code extern "C" __global__} so its name is not mangled. */
    public synchronized CudaFunction function(String name) {
        return functions.computeIfAbsent(name, n -> {
            if (emulated != null) {
                try (Arena a = Arena.ofConfined()) {
                    MemorySegment k = (MemorySegment) emulated.kernel().invokeExact(a.allocateFrom(n));
                    if (k.address() == 0)
                        throw new CudaException("no kernel named \"" + n + "\" in this module: declare it extern \"C\" __global__");
                    return new CudaFunction(gpu, n, k, emulated);
                } catch (RuntimeException | Error e) {
                    throw e;
                } catch (Throwable t) {
                    throw new CudaException("emulator lookup of " + n + " failed: " + t, t);
                }
            }
            gpu.makeCurrent();
            try (Arena a = Arena.ofConfined()) {
                MemorySegment out = a.allocate(ADDRESS);
                gpu.drv.call("cuModuleGetFunction(\"" + n + "\")", gpu.drv.moduleGetFunction, out, module, a.allocateFrom(n));
                return new CudaFunction(gpu, n, out.get(ADDRESS, 0), null);
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
        if (emulated != null) return;      // the shared library stays loaded (it is cached by content)
        gpu.makeCurrent();
        gpu.drv.call("cuModuleUnload", gpu.drv.moduleUnload, module);
    }
}
