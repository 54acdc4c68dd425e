package hyperlab.interop;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Copies between DJL NDArrays and device tensors, byte for byte in the same element type, so a notebook
 * can hand the CPU engine's weights or activations to a CUDA kernel and compare its results back in DJL.
 */
public final class NdArrayCopies {
    private NdArrayCopies() {}

    /** The device element type of a DJL data type; types without a device twin are refused by name. */
    public static DType dtypeOf(DataType t) {
        return switch (t) {
            case FLOAT32 -> DType.F32;
            case FLOAT64 -> DType.F64;
            case FLOAT16 -> DType.F16;
            case BFLOAT16 -> DType.BF16;
            case INT8 -> DType.I8;
            case UINT8 -> DType.U8;
            case INT32 -> DType.I32;
            case INT64 -> DType.I64;
            default -> throw new IllegalArgumentException("DJL data type " + t + " has no device tensor type: convert it first, "
                    + "e.g. array.toType(DataType.FLOAT32, false)");
        };
    }

    /** The DJL data type of a device element type. */
    public static DataType dataTypeOf(DType t) {
        return switch (t) {
            case F32 -> DataType.FLOAT32;
            case F64 -> DataType.FLOAT64;
            case F16 -> DataType.FLOAT16;
            case BF16 -> DataType.BFLOAT16;
            case I8 -> DataType.INT8;
            case U8 -> DataType.UINT8;
            case I32 -> DataType.INT32;
            case I64 -> DataType.INT64;
        };
    }

    /** A new device tensor in the arena with the array's shape, type and bytes (row-major). */
    public static DeviceTensor toDevice(NDArray a, DeviceArena arena) {
        DeviceTensor t = arena.alloc(dtypeOf(a.getDataType()), a.getShape().getShape());
        ByteBuffer b = a.toByteBuffer();
        byte[] bytes = new byte[b.remaining()];
        b.order(ByteOrder.nativeOrder()).get(bytes);
        return t.copyFromBytes(bytes);
    }

    /** A new NDArray in the manager with the tensor's shape, type and bytes (waits for queued device work). */
    public static NDArray toNDArray(DeviceTensor t, NDManager manager) {
        byte[] bytes = t.toByteArray();
        ByteBuffer b = ByteBuffer.allocateDirect(bytes.length).order(ByteOrder.nativeOrder());
        b.put(bytes).flip();
        return manager.create(b, new Shape(t.shape()), dataTypeOf(t.dtype()));
    }
}
