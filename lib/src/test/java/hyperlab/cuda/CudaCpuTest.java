package hyperlab.cuda;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

/** What can be checked without a GPU: error messages, cache keys, argument marshalling, dtype conversions. */
class CudaCpuTest {

    @Test
    void missingLibraryNamesWhatWasTriedAndHowToFix() {
        CudaException e = assertThrows(CudaException.class,
                () -> NativeLib.load("NVRTC (the CUDA runtime compiler)", Nvrtc.FIX, "libnvrtc-hyperlab-absent.so.13",
                        "libnvrtc-hyperlab-absent.so.12"));
        assertTrue(e.getMessage().startsWith("NVRTC (the CUDA runtime compiler) not found (tried libnvrtc-hyperlab-absent.so.13, "
                + "libnvrtc-hyperlab-absent.so.12"), e.getMessage());
        assertTrue(e.getMessage().contains("LD_LIBRARY_PATH"), e.getMessage());
    }

    @Test
    void withoutDriverTheFirstCallSaysSoAndTheLibraryStillLoads() {
        assumeFalse(Cuda.isAvailable(), "a GPU is present here; this test covers machines without one");
        String reason = Cuda.unavailableReason().orElseThrow();
        CudaException e = assertThrows(CudaException.class, Cuda::gpu);
        assertTrue(e.getMessage().contains("libcuda.so.1") || e.getMessage().contains("no CUDA device"), e.getMessage());
        assertTrue(e.getMessage().contains("nvidia-smi") || e.getMessage().contains("NVIDIA driver"), e.getMessage());
        assertEquals(reason, e.getMessage());
        assertThrows(CudaException.class, () -> Cuda.compile(Cuda.gpu(), Cuda.CELL, "extern \"C\" __global__ void k() {}"));
        if (Cuda.emulatorUnavailableReason().isEmpty()) {     // without a GPU, cells compile for the CPU emulator
            assertTrue(Cuda.device().emulated());
            assertTrue(Cuda.compile("extern \"C\" __global__ void k() {}").function("k") != null);
        }
    }

    @Test
    void cacheKeyChangesWithSourceOptionsArchAndNvrtcVersion() {
        String base = CubinCache.key("src", "cell.cu", List.of("-O3"), "sm_90", "13.0");
        assertEquals(base, CubinCache.key("src", "cell.cu", List.of("-O3"), "sm_90", "13.0"));
        assertNotEquals(base, CubinCache.key("src ", "cell.cu", List.of("-O3"), "sm_90", "13.0"));
        assertNotEquals(base, CubinCache.key("src", "cell.cu", List.of("-O2"), "sm_90", "13.0"));
        assertNotEquals(base, CubinCache.key("src", "cell.cu", List.of("-O3", "-DX"), "sm_90", "13.0"));
        assertNotEquals(base, CubinCache.key("src", "cell.cu", List.of("-O3"), "sm_80", "13.0"));
        assertNotEquals(base, CubinCache.key("src", "cell.cu", List.of("-O3"), "sm_90", "12.8"));
        // field boundaries matter: moving text between fields must not collide
        assertNotEquals(CubinCache.key("ab", "c", List.of(), "sm_90", "13.0"), CubinCache.key("a", "bc", List.of(), "sm_90", "13.0"));
        assertEquals(64, base.length());
    }

    @Test
    void cacheStoresAndReturnsCubins(@TempDir Path dir) {
        CubinCache c = new CubinCache(dir.resolve("nested"));
        assertTrue(c.get("k").isEmpty());
        c.put("k", new byte[] {1, 2, 3});
        assertArrayEquals(new byte[] {1, 2, 3}, c.get("k").orElseThrow());
    }

    @Test
    void kernelArgumentsArePackedAsCTypes() {
        DevicePointer buf = () -> 0x7f00_1234_5678L;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = KernelArgs.pack(a, buf, 42, 1.5f, 7L, 2.25, (short) -3, (byte) 9, true);
            assertEquals(0x7f00_1234_5678L, slot(p, 0).get(ValueLayout.JAVA_LONG, 0));
            assertEquals(42, slot(p, 1).get(ValueLayout.JAVA_INT, 0));
            assertEquals(1.5f, slot(p, 2).get(ValueLayout.JAVA_FLOAT, 0));
            assertEquals(7L, slot(p, 3).get(ValueLayout.JAVA_LONG, 0));
            assertEquals(2.25, slot(p, 4).get(ValueLayout.JAVA_DOUBLE, 0));
            assertEquals((short) -3, slot(p, 5).get(ValueLayout.JAVA_SHORT, 0));
            assertEquals((byte) 9, slot(p, 6).get(ValueLayout.JAVA_BYTE, 0));
            assertEquals((byte) 1, slot(p, 7).get(ValueLayout.JAVA_BYTE, 0));
            assertEquals(MemorySegment.NULL, KernelArgs.pack(a));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KernelArgs.pack(a, 1, "x"));
            assertTrue(e.getMessage().contains("argument 1") && e.getMessage().contains("java.lang.String"), e.getMessage());
        }
    }

    private static MemorySegment slot(MemorySegment params, int i) {
        return params.getAtIndex(ValueLayout.ADDRESS, i).reinterpret(8);
    }

    @Test
    void bf16RoundsToNearestEven() {
        assertEquals(1.0f, DType.bf16ToFloat(DType.floatToBf16(1.0f)));
        // 1 + 2^-8 lies halfway between bf16 neighbours 1 and 1 + 2^-7: ties go to the even one (1)
        assertEquals(1.0f, DType.bf16ToFloat(DType.floatToBf16(1f + 0x1p-8f)));
        assertEquals(1f + 0x1p-6f, DType.bf16ToFloat(DType.floatToBf16(1f + 0x1p-7f + 0x1p-8f)));
        assertEquals(1f + 0x1p-7f, DType.bf16ToFloat(DType.floatToBf16(1f + 0x1p-8f + 0x1p-12f)));
        assertTrue(Float.isNaN(DType.bf16ToFloat(DType.floatToBf16(Float.NaN))));
        assertEquals(Float.POSITIVE_INFINITY, DType.bf16ToFloat(DType.floatToBf16(Float.POSITIVE_INFINITY)));
        double maxRel = 0;
        for (float x = -100f; x < 100f; x += 0.0137f) {
            if (x != 0) maxRel = Math.max(maxRel, Math.abs(DType.bf16ToFloat(DType.floatToBf16(x)) - x) / Math.abs(x));
        }
        assertTrue(maxRel <= 0x1p-8, "bf16 relative rounding error " + maxRel);
    }

    @Test
    void hostConversionsRoundTripEveryDtype() {
        try (Arena a = Arena.ofConfined()) {
            for (DType t : DType.values()) {
                MemorySegment s = a.allocate(4L * t.bytes());
                double[] vals = {0, 1, 2, t == DType.U8 ? 200 : -3};
                for (int i = 0; i < 4; i++) t.put(s, i, vals[i]);
                for (int i = 0; i < 4; i++) assertEquals(vals[i], t.get(s, i), 0.0, t + "[" + i + "]");
            }
        }
    }

    @Test
    void compileErrorQuotesTheNumberedSourceLines() {
        String src = "extern \"C\" __global__ void k(float* x) {\n  int i = threadIdx.x;\n  x[i] = y;\n}\n";
        String log = "cell.cu(3): error: identifier \"y\" is undefined\n    x[i] = y;\n           ^\n\n1 error detected in the compilation of \"cell.cu\".\n";
        String msg = CompileException.format("cell.cu", "-arch=sm_90", src, log);
        assertTrue(msg.startsWith("NVRTC could not compile cell.cu (options: -arch=sm_90):\ncell.cu(3): error"), msg);
        assertTrue(msg.contains("    3 |   x[i] = y;"), msg);
        assertFalse(msg.contains("    2 |"), msg);
    }

    @Test
    void defaultOptionsTargetTheDeviceUnlessTheUserChose() {
        List<String> o = Cuda.effectiveOptions("sm_90", "-DN=4");
        assertTrue(o.contains("-arch=sm_90") && o.contains("-std=c++17") && o.getFirst().equals("-DN=4"), o.toString());
        List<String> own = Cuda.effectiveOptions("sm_90", "-arch=compute_90", "-std=c++20");
        assertFalse(own.contains("-arch=sm_90") || own.contains("-std=c++17"), own.toString());
    }

    @Test
    void launchExtentsCoverAndValidate() {
        assertEquals(new Dim3(4, 1, 1), Dim3.cover(1000, 256));
        assertEquals(new Dim3(1, 1, 1), Dim3.cover(0, 256));
        assertThrows(IllegalArgumentException.class, () -> new Dim3(0, 1, 1));
    }

    @Test
    void bandwidthRatiosUseTheMeasuredGpusOwnPeak() {
        assertEquals(4.8e12, DeviceBench.hbmPeak("NVIDIA H200"));
        assertEquals(3.35e12, DeviceBench.hbmPeak("NVIDIA H100 80GB HBM3"));
        assertNull(DeviceBench.hbmPeak("NVIDIA H1000"), "a whole-word match, not a prefix");
        assertNull(DeviceBench.hbmPeak("NVIDIA A100-SXM4-80GB"));
    }

    /**
     * The clock is settled once a batch is no more than 2 % faster than the one five batches before it: a ramp of 1 %
     * per batch (a slow clock) keeps it running, a flat run ends it after six batches, and noise of ±1 % does not
     * hold it back.
     */
    @Test
    void clockSettlesOnlyWhenBatchesStopGettingFaster() {
        List<Float> flat = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            flat.add(2f);
            assertFalse(Matmul.settled(flat), "too few batches to tell: " + flat);
        }
        flat.add(2f);
        assertTrue(Matmul.settled(flat));
        List<Float> ramp = new java.util.ArrayList<>();
        for (int i = 0; i < 40; i++) {
            ramp.add((float) (4 * Math.pow(0.99, i)));
            assertFalse(Matmul.settled(ramp), "still 1 % faster per batch at batch " + i);
        }
        List<Float> noisy = new java.util.ArrayList<>(List.of(2.02f, 1.98f, 2.02f, 1.98f, 2.02f, 1.98f));
        assertTrue(Matmul.settled(noisy), noisy.toString());
    }
}
