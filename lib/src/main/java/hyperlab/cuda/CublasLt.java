package hyperlab.cuda;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Downcalls into cuBLASLt, the matmul library with heuristics, strided batches and fused epilogues. */
final class CublasLt {
    static final String FIX = "Install cuBLAS from the CUDA toolkit (the libcublas-13-0 or libcublas-12-x package, or pip's "
            + "nvidia-cublas) and make its lib directory visible through LD_LIBRARY_PATH.";
    static final int COMPUTE_32F = 68;
    static final int DESC_TRANSA = 3, DESC_TRANSB = 4, DESC_EPILOGUE = 7, DESC_BIAS_POINTER = 8;
    static final int LAYOUT_BATCH_COUNT = 5, LAYOUT_STRIDED_BATCH_OFFSET = 6;
    static final int PREF_MAX_WORKSPACE_BYTES = 1;
    /** cublasLtMatmulPreferenceAttributes_t: the least alignment (bytes) of A, B, C, D an algorithm may assume; 256 if unset. */
    static final int PREF_MIN_ALIGNMENT_A_BYTES = 5, PREF_MIN_ALIGNMENT_B_BYTES = 6, PREF_MIN_ALIGNMENT_C_BYTES = 7,
            PREF_MIN_ALIGNMENT_D_BYTES = 8;
    /** sizeof(cublasLtMatmulHeuristicResult_t): algo (64 bytes), workspaceSize, state, wavesCount, reserved[4]. */
    static final long HEURISTIC_RESULT_BYTES = 96;

    final NativeLib lib;
    final MethodHandle create, version, descCreate, descSet, layoutCreate, layoutSet, prefCreate, prefSet, heuristic, matmul;
    private final MethodHandle statusString;

    private CublasLt(NativeLib lib) {
        this.lib = lib;
        FunctionDescriptor setFd = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
        create = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS), "cublasLtCreate");
        version = lib.fn(FunctionDescriptor.of(JAVA_LONG), "cublasLtGetVersion");
        descCreate = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), "cublasLtMatmulDescCreate");
        descSet = lib.fn(setFd, "cublasLtMatmulDescSetAttribute");
        layoutCreate = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG),
                "cublasLtMatrixLayoutCreate");
        layoutSet = lib.fn(setFd, "cublasLtMatrixLayoutSetAttribute");
        prefCreate = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS), "cublasLtMatmulPreferenceCreate");
        prefSet = lib.fn(setFd, "cublasLtMatmulPreferenceSetAttribute");
        heuristic = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                JAVA_INT, ADDRESS, ADDRESS), "cublasLtMatmulAlgoGetHeuristic");
        matmul = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS,
                ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS), "cublasLtMatmul");
        statusString = lib.fn(FunctionDescriptor.of(ADDRESS, JAVA_INT), "cublasLtGetStatusString");
    }

    static CublasLt load() {
        return new CublasLt(NativeLib.load("cuBLASLt", FIX, "libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"));
    }

    /** cublasLtGetVersion as "13.0.2" (encoded major*10000 + minor*100 + patch). */
    String version() {
        try {
            long v = (long) version.invokeExact();
            return (v / 10000) + "." + (v / 100 % 100) + "." + (v % 100);
        } catch (Throwable t) {
            return "unknown";
        }
    }

    void call(String name, MethodHandle h, Object... args) {
        int r = NativeLib.status(name, h, args);
        if (r != 0) throw new CudaException(name + " failed: " + statusText(r));
    }

    String statusText(int r) {
        try {
            return Driver.cString((MemorySegment) statusString.invokeExact(r)) + " (cublasStatus " + r + ")";
        } catch (Throwable t) {
            return "cublasStatus " + r;
        }
    }
}
