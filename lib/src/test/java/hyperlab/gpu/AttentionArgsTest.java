package hyperlab.gpu;

import hyperlab.cuda.DType;
import hyperlab.cuda.DeviceArena;
import hyperlab.cuda.Gpu;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** Argument validation of {@link Attention}: constructor checks need no device; tensor checks use the GPU or emulator. */
class AttentionArgsTest {
    private static void message(Exception e, String part) {
        assertTrue(e.getMessage().contains(part), "message \"" + e.getMessage() + "\" should mention " + part);
    }

    @Test
    void constructorRejectsBadConfigurationsBeforeTouchingTheGpu() {
        message(assertThrows(IllegalArgumentException.class, () -> new Attention(null, 0, 64, DType.F32)), "heads");
        message(assertThrows(IllegalArgumentException.class, () -> new Attention(null, 12, 0, DType.F32)), "head size");
        message(assertThrows(IllegalArgumentException.class, () -> new Attention(null, 12, 256, DType.F32)), "1..128");
        message(assertThrows(IllegalArgumentException.class, () -> new Attention(null, 12, 64, DType.F16)), "F32 and BF16");
        message(assertThrows(IllegalArgumentException.class, () -> new Attention(null, 12, 64, DType.F32, true)), "tensor-core");
        message(assertThrows(IllegalArgumentException.class, () -> new Attention(null, 12, 24, DType.BF16, true)), "multiple of 16");
        message(assertThrows(IllegalArgumentException.class, () -> new Attention(null, 12, 64, DType.F32)), "gpu is null");
        message(assertThrows(IllegalArgumentException.class,
                () -> new Attention(null, 2, 128, DType.BF16, true, new Attention.BackwardTiling(128, 1, 32))), "32 keys per backward warp need d <= 64");
        message(assertThrows(IllegalArgumentException.class, () -> Attention.BackwardTiling.parse("96x1")), "64 or 128");
        message(assertThrows(IllegalArgumentException.class, () -> Attention.BackwardTiling.parse("64x5")), "1..4");
        message(assertThrows(IllegalArgumentException.class, () -> Attention.BackwardTiling.parse("64x2x24")), "16 or 32 keys per warp");
        message(assertThrows(IllegalArgumentException.class, () -> Attention.BackwardTiling.parse("64")), "KEYSxBLOCKS[xWARPKEYS]");
        message(assertThrows(IllegalArgumentException.class, () -> Attention.BackwardTiling.parse("64x2x32x1")), "128x2x32");
        message(assertThrows(IllegalArgumentException.class, () -> new Attention(null, 2, 128, DType.BF16, true,
                new Attention.ForwardTiling(16, 64, 1), Attention.BackwardTiling.of(128))), "64 keys per forward tile need d <= 64");
        message(assertThrows(IllegalArgumentException.class, () -> new Attention(null, 2, 96, DType.BF16, true,
                new Attention.ForwardTiling(32, 32, 1), Attention.BackwardTiling.of(96))), "32 queries per forward warp need d <= 64");
        message(assertThrows(IllegalArgumentException.class, () -> Attention.ForwardTiling.parse("24x64x2")), "16 or 32 queries");
        message(assertThrows(IllegalArgumentException.class, () -> Attention.ForwardTiling.parse("16x48x2")), "32 or 64 keys");
        message(assertThrows(IllegalArgumentException.class, () -> Attention.ForwardTiling.parse("16x64x0")), "1..4");
        message(assertThrows(IllegalArgumentException.class, () -> Attention.ForwardTiling.parse("16x64")), "ROWSxKEYSxBLOCKS");
    }

    @Test
    void flopsAreTheCausalCount() {
        assertTrue(Attention.forwardFlops(16, 12, 1024, 64) == 2.0 * 16 * 12 * 1024 * 1024 * 64);
    }

    @Test
    void tensorShapesAndDtypesAreChecked() {
        Gpu gpu = TestDevices.gpuOrEmulator().orElse(null);
        assumeTrue(gpu != null, TestDevices::why);
        int b = 2, t = 5, h = 2, d = 16, c = h * d;
        try (Attention att = new Attention(gpu, h, d, DType.F32); DeviceArena a = gpu.arena()) {
            var qkv = a.alloc(DType.F32, b, t, 3 * c);
            var y = a.alloc(DType.F32, b, t, c);
            var lse = a.alloc(DType.F32, b, h, t);
            var dqkv = a.alloc(DType.F32, b, t, 3 * c);
            att.forward(qkv.view(0, (long) b * t, 3 * c), y, lse, b, t);   // a [B*T, 3C] view is fine
            message(assertThrows(IllegalArgumentException.class, () -> att.forward(qkv, y, lse, b, t + 1)), "[B, T, 3C] = [2, 6, 96]");
            message(assertThrows(IllegalArgumentException.class, () -> att.forward(qkv, a.alloc(DType.BF16, b, t, c), lse, b, t)), "y must be F32");
            message(assertThrows(IllegalArgumentException.class, () -> att.forward(qkv, y, a.alloc(DType.BF16, b, h, t), b, t)), "always F32");
            message(assertThrows(IllegalArgumentException.class, () -> att.forward(qkv, y, a.alloc(DType.F32, b, t), b, t)), "lse must be [B, heads, T]");
            message(assertThrows(IllegalArgumentException.class, () -> att.forward(qkv, y, lse, 0, t)), "batch and time");
            message(assertThrows(IllegalArgumentException.class, () -> att.backward(y, qkv, y, lse, qkv, b, t)), "alias");
            message(assertThrows(IllegalArgumentException.class, () -> att.backward(qkv, qkv, y, lse, dqkv, b, t)), "dy must be [B, T, C]");
        }
    }
}
