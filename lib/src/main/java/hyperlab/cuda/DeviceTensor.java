package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/** A dense row-major array in device memory, with a dtype and a shape; freed by its arena or by close(). */
public final class DeviceTensor implements DevicePointer, AutoCloseable {
    private final Gpu gpu;
    private final DeviceArena owner;
    private final DType dtype;
    private final long[] shape;
    private final long elements;
    private final DeviceTensor parent;   // non-null for a view: the tensor that owns the memory
    private long address;

    DeviceTensor(Gpu gpu, DeviceArena owner, DType dtype, long[] shape) {
        this.gpu = gpu;
        this.owner = owner;
        this.dtype = dtype;
        this.shape = shape.clone();
        this.elements = count(shape);
        this.parent = null;
        this.address = elements == 0 ? 0 : gpu.alloc(elements * dtype.bytes());
    }

    private DeviceTensor(DeviceTensor parent, long offsetElements, long[] shape) {
        this.gpu = parent.gpu;
        this.owner = null;
        this.dtype = parent.dtype;
        this.shape = shape.clone();
        this.elements = count(shape);
        this.parent = parent;
        if (offsetElements < 0 || offsetElements + elements > parent.elements)
            throw new IllegalArgumentException("view of " + elements + " elements at offset " + offsetElements
                    + " does not fit in " + parent);
        this.address = parent.address() + offsetElements * dtype.bytes();
    }

    private static long count(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /**
     * A tensor of {@code shape} over this one's memory from element {@code offsetElements} on, without a copy
     * (a reshape when the offset is 0); valid as long as this tensor is, and closing it frees nothing.
     */
    public DeviceTensor view(long offsetElements, long... shape) {
        return new DeviceTensor(this, offsetElements, shape);
    }

    @Override
    public long address() {
        if (parent != null) parent.address();   // throws when the owner was freed
        if (address == 0 && elements > 0) throw new IllegalStateException("this DeviceTensor was freed");
        return address;
    }

    public DType dtype() {
        return dtype;
    }

    public long[] shape() {
        return shape.clone();
    }

    public long elements() {
        return elements;
    }

    public long bytes() {
        return elements * dtype.bytes();
    }

    public Gpu gpu() {
        return gpu;
    }

    /** Copies host values in, converting each to this tensor's dtype. */
    public DeviceTensor copyFrom(float[] src) {
        checkLength(src.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(Math.max(1, bytes()), 8);
            if (dtype == DType.F32) MemorySegment.copy(src, 0, host, ValueLayout.JAVA_FLOAT, 0, src.length);
            else for (int i = 0; i < src.length; i++) dtype.put(host, i, src[i]);
            upload(host);
        }
        return this;
    }

    public DeviceTensor copyFrom(int[] src) {
        checkLength(src.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(Math.max(1, bytes()), 8);
            if (dtype == DType.I32) MemorySegment.copy(src, 0, host, ValueLayout.JAVA_INT, 0, src.length);
            else for (int i = 0; i < src.length; i++) dtype.put(host, i, src[i]);
            upload(host);
        }
        return this;
    }

    public DeviceTensor copyFrom(double[] src) {
        checkLength(src.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(Math.max(1, bytes()), 8);
            for (int i = 0; i < src.length; i++) dtype.put(host, i, src[i]);
            upload(host);
        }
        return this;
    }

    /** Copies raw bytes in (any dtype; length must equal bytes()). */
    public DeviceTensor copyFromBytes(byte[] src) {
        if (src.length != bytes()) throw new IllegalArgumentException("need " + bytes() + " bytes, got " + src.length);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = a.allocate(Math.max(1, bytes()), 8);
            MemorySegment.copy(src, 0, host, ValueLayout.JAVA_BYTE, 0, src.length);
            upload(host);
        }
        return this;
    }

    /** Device-to-device copy from a tensor of the same byte size (queued on the stream). */
    public DeviceTensor copyFrom(DeviceTensor src) {
        if (src.bytes() != bytes()) throw new IllegalArgumentException("byte sizes differ: " + src.bytes() + " vs " + bytes());
        gpu.copy(this, src, bytes());
        return this;
    }

    /** Values converted to float (waits for queued work first). */
    public float[] toFloatArray() {
        float[] out = new float[Math.toIntExact(elements)];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = download(a);
            if (dtype == DType.F32) MemorySegment.copy(host, ValueLayout.JAVA_FLOAT, 0, out, 0, out.length);
            else for (int i = 0; i < out.length; i++) out[i] = (float) dtype.get(host, i);
        }
        return out;
    }

    public double[] toDoubleArray() {
        double[] out = new double[Math.toIntExact(elements)];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = download(a);
            for (int i = 0; i < out.length; i++) out[i] = dtype.get(host, i);
        }
        return out;
    }

    public int[] toIntArray() {
        int[] out = new int[Math.toIntExact(elements)];
        try (Arena a = Arena.ofConfined()) {
            MemorySegment host = download(a);
            for (int i = 0; i < out.length; i++) out[i] = (int) dtype.get(host, i);
        }
        return out;
    }

    /** Raw bytes as stored on the device. */
    public byte[] toByteArray() {
        try (Arena a = Arena.ofConfined()) {
            return download(a).toArray(ValueLayout.JAVA_BYTE);
        }
    }

    /** Sets every byte to 0 (queued on the stream). */
    public DeviceTensor zero() {
        if (elements > 0) {
            gpu.makeCurrent();
            gpu.memset(address(), (byte) 0, bytes());
        }
        return this;
    }

    /** Frees the device memory now, rather than when the arena closes. */
    @Override
    public void close() {
        if (parent != null) return;
        owner.forget(this);
        release();
    }

    void release() {
        if (address != 0 && parent == null) {
            gpu.makeCurrent();
            gpu.free(address);
            address = 0;
        }
    }

    private void upload(MemorySegment host) {
        if (elements == 0) return;
        gpu.makeCurrent();
        gpu.copyHtoD(address(), host, bytes());
    }

    private MemorySegment download(Arena a) {
        MemorySegment host = a.allocate(Math.max(1, bytes()), 8);
        if (elements > 0) {
            gpu.makeCurrent();
            gpu.copyDtoH(host, address(), bytes());
        }
        return host.asSlice(0, bytes());
    }

    private void checkLength(int n) {
        if (n != elements) {
            throw new IllegalArgumentException("array has " + n + " elements, tensor " + Arrays.toString(shape) + " has " + elements);
        }
    }

    @Override
    public String toString() {
        return "DeviceTensor" + Arrays.toString(shape) + " " + dtype + (address == 0 && elements > 0 ? " (freed)" : "");
    }
}
