package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** Packs Java launch arguments into the {@code void* kernelParams[]} array that cuLaunchKernel reads. */
final class KernelArgs {
    private KernelArgs() {
    }

    /**
     * One slot per argument, each holding the argument's value in the C type a kernel expects:
     * DevicePointer and Long as 64 bits, Integer as int, Float as float, Double as double, Short, Byte, Boolean as one byte.
     * Returns NULL for no arguments.
     */
    static MemorySegment pack(Arena arena, Object... args) {
        if (args.length == 0) return MemorySegment.NULL;
        MemorySegment params = arena.allocate(ValueLayout.ADDRESS, args.length);
        for (int i = 0; i < args.length; i++) {
            params.setAtIndex(ValueLayout.ADDRESS, i, slot(arena, args[i], i));
        }
        return params;
    }

    private static MemorySegment slot(Arena arena, Object a, int i) {
        return switch (a) {
            case DevicePointer p -> arena.allocateFrom(ValueLayout.JAVA_LONG, p.address());
            case Integer v -> arena.allocateFrom(ValueLayout.JAVA_INT, v);
            case Float v -> arena.allocateFrom(ValueLayout.JAVA_FLOAT, v);
            case Long v -> arena.allocateFrom(ValueLayout.JAVA_LONG, v);
            case Double v -> arena.allocateFrom(ValueLayout.JAVA_DOUBLE, v);
            case Short v -> arena.allocateFrom(ValueLayout.JAVA_SHORT, v);
            case Byte v -> arena.allocateFrom(ValueLayout.JAVA_BYTE, v);
            case Boolean v -> arena.allocateFrom(ValueLayout.JAVA_BYTE, (byte) (v ? 1 : 0));
            case null -> throw new IllegalArgumentException("kernel argument " + i + " is null");
            default -> throw new IllegalArgumentException("kernel argument " + i + " has unsupported type "
                    + a.getClass().getName() + " (use a DeviceTensor, int, long, float, double, short, byte or boolean)");
        };
    }
}
