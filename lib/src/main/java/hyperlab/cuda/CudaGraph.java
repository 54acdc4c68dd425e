package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * A stretch of queued GPU work recorded once and replayed with one launch ({@link Gpu#capture}): the host no longer
 * queues each kernel and GEMM, and the GPU runs them back to back. A replay reads and writes the same device addresses
 * with the same scalar arguments as the capture, so only what lives in device memory may change between launches.
 * On the emulator a launch runs the recorded work again (its kernels run on the CPU anyway).
 */
public final class CudaGraph implements AutoCloseable {
    private final Gpu gpu;
    private final Runnable work;                 // the emulator's: run again at each launch
    private MemorySegment graph, exec;

    private CudaGraph(Gpu gpu, Runnable work, MemorySegment graph, MemorySegment exec) {
        this.gpu = gpu;
        this.work = work;
        this.graph = graph;
        this.exec = exec;
    }

    /**
     * Records what {@code work} queues on {@code gpu}'s stream, without running it. {@code work} must not wait for the
     * GPU, read results back or allocate: CUDA refuses those while a stream is captured, and this throws a
     * CudaException that names the call (the stream is usable again afterwards; run the work uncaptured instead).
     */
    static CudaGraph capture(Gpu gpu, Runnable work) {
        if (gpu.emulated()) return new CudaGraph(gpu, work, null, null);
        gpu.makeCurrent();
        Driver drv = gpu.drv;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment g = a.allocate(ADDRESS);
            drv.call("cuStreamBeginCapture", drv.streamBeginCapture, gpu.stream, Driver.CAPTURE_MODE_THREAD_LOCAL);
            try {
                work.run();
            } catch (RuntimeException e) {
                // ends the (now invalid) capture so the stream takes ordinary work again; its status is the capture's failure
                NativeLib.status("cuStreamEndCapture", drv.streamEndCapture, gpu.stream, g);
                MemorySegment partial = g.get(ADDRESS, 0);
                if (!partial.equals(MemorySegment.NULL)) NativeLib.status("cuGraphDestroy", drv.graphDestroy, partial);
                throw new CudaException("the work could not be captured into a CUDA graph (it must only queue kernels, GEMMs and"
                        + " copies between device buffers): " + e.getMessage(), e);
            }
            drv.call("cuStreamEndCapture", drv.streamEndCapture, gpu.stream, g);
            MemorySegment graph = g.get(ADDRESS, 0), x = a.allocate(ADDRESS);
            try {
                drv.call("cuGraphInstantiateWithFlags", drv.graphInstantiate, x, graph, 0L);
            } catch (CudaException e) {
                NativeLib.status("cuGraphDestroy", drv.graphDestroy, graph);
                throw e;
            }
            return new CudaGraph(gpu, null, graph, x.get(ADDRESS, 0));
        }
    }

    /** Queues one replay of the recorded work on the stream (returns before it finishes). */
    public void launch() {
        if (work != null) {
            work.run();
            return;
        }
        if (exec == null) throw new IllegalStateException("this CUDA graph was closed");
        gpu.makeCurrent();
        gpu.drv.call("cuGraphLaunch", gpu.drv.graphLaunch, exec, gpu.stream);
    }

    @Override
    public void close() {
        if (exec == null) return;
        gpu.makeCurrent();
        gpu.drv.call("cuGraphExecDestroy", gpu.drv.graphExecDestroy, exec);
        gpu.drv.call("cuGraphDestroy", gpu.drv.graphDestroy, graph);
        exec = graph = null;
    }
}
