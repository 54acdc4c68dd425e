package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * One GPU: its primary context and one stream that every operation of this library is ordered on.
 * One Gpu per device is the unit that multi-GPU work (NCCL) will replicate. {@link Cuda#emulator()} gives one
 * that runs the same kernels on the CPU instead (for tests on machines without a GPU).
 */
public final class Gpu {
    final Driver drv;
    final Emulator emu;              // non-null: this "GPU" is the CPU emulator
    private final DeviceInfo info;
    private final MemorySegment ctx;
    final MemorySegment stream;
    private final ThreadLocal<Boolean> current = ThreadLocal.withInitial(() -> false);
    private Matmul matmul;

    Gpu(Emulator emu) {
        this.drv = null;
        this.emu = emu;
        this.ctx = null;
        this.stream = null;
        this.info = new DeviceInfo(-1, "CPU emulator (" + emu.compiler() + ")", 0, 0, 1, Runtime.getRuntime().maxMemory());
    }

    Gpu(Driver drv, int ordinal) {
        this.drv = drv;
        this.emu = null;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment dev = a.allocate(JAVA_INT);
            drv.call("cuDeviceGet", drv.deviceGet, dev, ordinal);
            int d = dev.get(JAVA_INT, 0);
            MemorySegment name = a.allocate(256);
            drv.call("cuDeviceGetName", drv.deviceGetName, name, 256, d);
            MemorySegment mem = a.allocate(JAVA_LONG);
            drv.call("cuDeviceTotalMem", drv.deviceTotalMem, mem, d);
            info = new DeviceInfo(ordinal, name.getString(0), attribute(a, Driver.ATTR_CC_MAJOR, d),
                    attribute(a, Driver.ATTR_CC_MINOR, d), attribute(a, Driver.ATTR_MULTIPROCESSOR_COUNT, d),
                    mem.get(JAVA_LONG, 0));
            MemorySegment c = a.allocate(ADDRESS);
            drv.call("cuDevicePrimaryCtxRetain", drv.primaryCtxRetain, c, d);
            ctx = c.get(ADDRESS, 0);
            makeCurrent();
            MemorySegment s = a.allocate(ADDRESS);
            drv.call("cuStreamCreate", drv.streamCreate, s, 0);
            stream = s.get(ADDRESS, 0);
        }
    }

    private int attribute(Arena a, int attr, int dev) {
        MemorySegment v = a.allocate(JAVA_INT);
        drv.call("cuDeviceGetAttribute", drv.deviceGetAttribute, v, attr, dev);
        return v.get(JAVA_INT, 0);
    }

    public DeviceInfo info() {
        return info;
    }

    /** True for the CPU emulator of {@link Cuda#emulator()}. */
    public boolean emulated() {
        return emu != null;
    }

    /** Binds this GPU's context to the calling thread (once per thread); every public entry point calls it. */
    void makeCurrent() {
        if (emu == null && !current.get()) {
            drv.call("cuCtxSetCurrent", drv.ctxSetCurrent, ctx);
            current.set(true);
        }
    }

    /** A new arena whose tensors are freed together when it closes. */
    public DeviceArena arena() {
        makeCurrent();
        return new DeviceArena(this);
    }

    /** Waits until all work queued on this GPU's stream is done. */
    public void synchronize() {
        if (emu != null) return;                       // emulated work is done when its call returns
        makeCurrent();
        drv.call("cuStreamSynchronize", drv.streamSynchronize, stream);
    }

    /** {free, total} device memory in bytes (cuMemGetInfo). */
    public long[] memoryInfo() {
        if (emu != null) {
            Runtime r = Runtime.getRuntime();
            return new long[] {r.maxMemory() - r.totalMemory() + r.freeMemory(), r.maxMemory()};
        }
        makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment free = a.allocate(JAVA_LONG), total = a.allocate(JAVA_LONG);
            drv.call("cuMemGetInfo", drv.memGetInfo, free, total);
            return new long[] {free.get(JAVA_LONG, 0), total.get(JAVA_LONG, 0)};
        }
    }

    /** Runs {@code work} (which queues GPU work) between two events on the stream and returns the GPU time in ms. */
    public float time(Runnable work) {
        if (emu != null) {
            long t0 = System.nanoTime();
            work.run();
            return (System.nanoTime() - t0) / 1e6f;
        }
        makeCurrent();
        try (Arena a = Arena.ofConfined()) {
            MemorySegment e = a.allocate(ADDRESS, 2);
            drv.call("cuEventCreate", drv.eventCreate, e, 0);
            drv.call("cuEventCreate", drv.eventCreate, e.asSlice(ADDRESS.byteSize()), 0);
            MemorySegment start = e.getAtIndex(ADDRESS, 0), end = e.getAtIndex(ADDRESS, 1);
            try {
                drv.call("cuEventRecord", drv.eventRecord, start, stream);
                work.run();
                drv.call("cuEventRecord", drv.eventRecord, end, stream);
                drv.call("cuEventSynchronize", drv.eventSynchronize, end);
                return drv.elapsedMs(start, end);
            } finally {
                drv.call("cuEventDestroy", drv.eventDestroy, start);
                drv.call("cuEventDestroy", drv.eventDestroy, end);
            }
        }
    }

    /** Records the work {@code work} queues on the stream into a graph instead of running it (see {@link CudaGraph}). */
    public CudaGraph capture(Runnable work) {
        return CudaGraph.capture(this, work);
    }

    /** A timeline of phases on this GPU's stream, from now (see {@link Timeline#mark}). */
    public Timeline timeline() {
        return new Timeline(this);
    }

    /** cuBLASLt GEMMs on this GPU's stream (loads libcublasLt on first use). */
    public synchronized Matmul matmul() {
        makeCurrent();
        if (matmul == null) matmul = emu != null ? new Matmul(this) : new Matmul(this, Cuda.cublasLt());
        return matmul;
    }

    long alloc(long bytes) {
        if (emu != null) return emu.alloc(bytes);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(JAVA_LONG);
            drv.call("cuMemAlloc(" + bytes + " bytes)", drv.memAlloc, p, bytes);
            return p.get(JAVA_LONG, 0);
        }
    }

    void free(long ptr) {
        if (emu != null) {
            emu.free(ptr);
            return;
        }
        drv.call("cuMemFree", drv.memFree, ptr);
    }

    void copyHtoD(long dst, MemorySegment src, long bytes) {
        if (emu != null) {
            MemorySegment.copy(src, 0, Emulator.segment(dst, bytes), 0, bytes);
            return;
        }
        drv.call("cuMemcpyHtoDAsync", drv.memcpyHtoDAsync, dst, src, bytes, stream);
        drv.call("cuStreamSynchronize", drv.streamSynchronize, stream); // src may be freed right after
    }

    void copyDtoH(MemorySegment dst, long src, long bytes) {
        if (emu != null) {
            MemorySegment.copy(Emulator.segment(src, bytes), 0, dst, 0, bytes);
            return;
        }
        drv.call("cuMemcpyDtoHAsync", drv.memcpyDtoHAsync, dst, src, bytes, stream);
        drv.call("cuStreamSynchronize", drv.streamSynchronize, stream);
    }

    /** Queues a device-to-device copy on the stream (returns before it finishes). */
    public void copy(DevicePointer dst, DevicePointer src, long bytes) {
        if (emu != null) {
            MemorySegment.copy(Emulator.segment(src.address(), bytes), 0, Emulator.segment(dst.address(), bytes), 0, bytes);
            return;
        }
        makeCurrent();
        drv.call("cuMemcpyDtoDAsync", drv.memcpyDtoDAsync, dst.address(), src.address(), bytes, stream);
    }

    void memset(long dst, byte value, long bytes) {
        if (emu != null) {
            Emulator.segment(dst, bytes).fill(value);
            return;
        }
        drv.call("cuMemsetD8Async", drv.memsetD8Async, dst, (int) value & 0xff, bytes, stream);
    }
}
