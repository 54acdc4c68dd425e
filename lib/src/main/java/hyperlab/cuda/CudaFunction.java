package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/** A kernel of a loaded module, launched on its GPU's stream. */
public final class CudaFunction {
    private final Gpu gpu;
    private final String name;
    private final MemorySegment handle;
    private final Emulator.Library emulated;
    private int sharedAllowed = 48 * 1024;   // dynamic shared memory launches may ask for: the default until an opt-in

    CudaFunction(Gpu gpu, String name, MemorySegment handle, Emulator.Library emulated) {
        this.gpu = gpu;
        this.name = name;
        this.handle = handle;
        this.emulated = emulated;
    }

    /**
     * Queues one launch; returns before the kernel finishes. Arguments in the kernel's parameter order:
     * DeviceTensor (or any DevicePointer), int, long, float, double, short, byte, boolean.
     */
    public void launch(Dim3 grid, Dim3 block, int sharedMemBytes, Object... args) {
        if (emulated != null) {
            try (Arena a = Arena.ofConfined()) {
                gpu.emu.launch(emulated, handle, name, grid, block, sharedMemBytes, KernelArgs.pack(a, args));
            }
            return;
        }
        gpu.makeCurrent();
        int r;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment params = KernelArgs.pack(a, args);
            r = (int) gpu.drv.launchKernel.invokeExact(handle, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(),
                    sharedMemBytes, gpu.stream, params, MemorySegment.NULL);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("cuLaunchKernel could not be called: " + t, t);
        }
        if (r != 0) throw new CudaException("cuLaunchKernel(" + name + ", grid " + grid + ", block " + block + ") failed: "
                + gpu.drv.errorText(r));
    }

    /**
     * Lets launches ask for up to {@code bytes} of dynamic shared memory; past 48 KB a kernel must opt in this way
     * (cuFuncSetAttribute, MAX_DYNAMIC_SHARED_SIZE_BYTES). Only a size past what is already allowed calls the driver,
     * so callers may ask before every launch; the allowance never shrinks. The emulator needs no opt-in. Returns this.
     */
    public synchronized CudaFunction allowSharedMemory(int bytes) {
        if (emulated != null || bytes <= sharedAllowed) return this;
        gpu.makeCurrent();
        gpu.drv.call("cuFuncSetAttribute(" + name + ", MAX_DYNAMIC_SHARED_SIZE_BYTES, " + bytes + ")", gpu.drv.funcSetAttribute,
                handle, Driver.FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
        sharedAllowed = bytes;
        return this;
    }

    public String name() {
        return name;
    }
}
