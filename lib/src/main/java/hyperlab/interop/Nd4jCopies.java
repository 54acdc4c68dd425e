package hyperlab.interop;

import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.DeviceTensor;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Copies between ND4J INDArrays (float64 analysis) and device tensors, in row-major order. ND4J is an
 * optional dependency (see README, "ND4J on JDK 25"): this class needs it on the class path.
 */
public final class Nd4jCopies {
    private Nd4jCopies() {}

    /** A new device tensor in the arena (F64, F32 or I32 as the array is) holding the array's values row-major. */
    public static DeviceTensor toDevice(INDArray a, DeviceArena arena) {
        INDArray c = Nd4j.toFlattened('c', a);   // logical row-major order, whatever a's own layout
        return switch (a.dataType()) {
            case DOUBLE -> arena.alloc(DType.F64, a.shape()).copyFrom(c.toDoubleVector());
            case FLOAT -> arena.alloc(DType.F32, a.shape()).copyFrom(c.toFloatVector());
            case INT -> arena.alloc(DType.I32, a.shape()).copyFrom(c.toIntVector());
            default -> throw new IllegalArgumentException("ND4J data type " + a.dataType() + " is not copied: use DOUBLE, FLOAT or INT "
                    + "(e.g. a.castTo(DataType.DOUBLE))");
        };
    }

    /** A new row-major INDArray with the tensor's shape: DOUBLE for F64, INT for I32, FLOAT otherwise (converted). */
    public static INDArray toINDArray(DeviceTensor t) {
        long[] shape = t.shape();
        return switch (t.dtype()) {
            case F64 -> Nd4j.create(t.toDoubleArray(), shape, 'c');
            case I32 -> Nd4j.createFromArray(t.toIntArray()).reshape('c', shape);
            default -> Nd4j.create(t.toFloatArray(), shape, 'c').castTo(DataType.FLOAT);
        };
    }
}
