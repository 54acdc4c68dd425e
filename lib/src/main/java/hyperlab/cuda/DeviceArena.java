package hyperlab.cuda;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** Owns device tensors and frees them all, deterministically, when closed (use try-with-resources); one thread at a time. */
public final class DeviceArena implements AutoCloseable {
    private final Gpu gpu;
    private final List<DeviceTensor> live = new ArrayList<>();
    private boolean closed;

    DeviceArena(Gpu gpu) {
        this.gpu = gpu;
    }

    /** Uninitialized device memory for a tensor of this dtype and row-major shape. */
    public DeviceTensor alloc(DType dtype, long... shape) {
        if (closed) throw new IllegalStateException("this DeviceArena is closed");
        gpu.makeCurrent();
        DeviceTensor t = new DeviceTensor(gpu, this, dtype, shape);
        live.add(t);
        return t;
    }

    /** A tensor holding a copy of {@code data} (converted to {@code dtype}). */
    public DeviceTensor of(DType dtype, float[] data, long... shape) {
        DeviceTensor t = alloc(dtype, shape.length == 0 ? new long[] {data.length} : shape);
        t.copyFrom(data);
        return t;
    }

    /** A zero-filled tensor. */
    public DeviceTensor zeros(DType dtype, long... shape) {
        DeviceTensor t = alloc(dtype, shape);
        t.zero();
        return t;
    }

    public Gpu gpu() {
        return gpu;
    }

    /** Bytes of the tensors this arena holds now (what a model's memory plan costs, exactly, on GPU or emulator). */
    public long bytes() {
        long sum = 0;
        for (DeviceTensor t : live) sum += t.bytes();
        return sum;
    }

    void forget(DeviceTensor t) {
        live.remove(t);
    }

    /** Frees every tensor still alive, newest first. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        List<DeviceTensor> all = new ArrayList<>(live);
        Collections.reverse(all);
        live.clear();
        for (DeviceTensor t : all) t.release();
    }
}
