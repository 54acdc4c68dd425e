package hyperlab.cuda;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Element types of device tensors, with their size, cudaDataType code (for cuBLASLt) and host conversions. */
public enum DType {
    F32(4, 0), F64(8, 1), F16(2, 2), BF16(2, 14), I8(1, 3), U8(1, 8), I32(4, 10), I64(8, 24);

    private static final ValueLayout.OfFloat F = ValueLayout.JAVA_FLOAT_UNALIGNED;
    private static final ValueLayout.OfDouble D = ValueLayout.JAVA_DOUBLE_UNALIGNED;
    private static final ValueLayout.OfShort S = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt I = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong L = ValueLayout.JAVA_LONG_UNALIGNED;

    private final int bytes;
    private final int cudaDataType;

    DType(int bytes, int cudaDataType) {
        this.bytes = bytes;
        this.cudaDataType = cudaDataType;
    }

    public int bytes() {
        return bytes;
    }

    /** The cudaDataType_t value (library_types.h). */
    int cudaDataType() {
        return cudaDataType;
    }

    /** Stores {@code v} as element {@code i} of a host segment, rounding to this type (bf16/f16: to nearest even). */
    void put(MemorySegment seg, long i, double v) {
        long o = i * bytes;
        switch (this) {
            case F32 -> seg.set(F, o, (float) v);
            case F64 -> seg.set(D, o, v);
            case F16 -> seg.set(S, o, Float.floatToFloat16((float) v));
            case BF16 -> seg.set(S, o, floatToBf16((float) v));
            case I8, U8 -> seg.set(ValueLayout.JAVA_BYTE, o, (byte) (long) v);
            case I32 -> seg.set(I, o, (int) (long) v);
            case I64 -> seg.set(L, o, (long) v);
        }
    }

    /** Element {@code i} of a host segment as a double (U8 unsigned). */
    double get(MemorySegment seg, long i) {
        long o = i * bytes;
        return switch (this) {
            case F32 -> seg.get(F, o);
            case F64 -> seg.get(D, o);
            case F16 -> Float.float16ToFloat(seg.get(S, o));
            case BF16 -> bf16ToFloat(seg.get(S, o));
            case I8 -> seg.get(ValueLayout.JAVA_BYTE, o);
            case U8 -> seg.get(ValueLayout.JAVA_BYTE, o) & 0xff;
            case I32 -> seg.get(I, o);
            case I64 -> seg.get(L, o);
        };
    }

    /** float32 to bfloat16 bits, round to nearest even; NaN stays NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) return (short) ((bits >>> 16) | 0x40);
        int rounding = 0x7fff + ((bits >>> 16) & 1);
        return (short) ((bits + rounding) >>> 16);
    }

    /** bfloat16 bits to float32 (exact). */
    public static float bf16ToFloat(short h) {
        return Float.intBitsToFloat((h & 0xffff) << 16);
    }
}
