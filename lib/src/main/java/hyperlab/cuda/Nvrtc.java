package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.util.List;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Downcalls into NVRTC, the runtime CUDA C++ compiler: source in, cubin (sm_XY) or PTX (compute_XY) out. */
final class Nvrtc {
    static final String FIX = "Install CUDA's NVRTC (e.g. the cuda-nvrtc-13-0 or cuda-nvrtc-12-x package, or pip's "
            + "nvidia-cuda-nvrtc) and make its lib directory visible through LD_LIBRARY_PATH.";
    private static final int NVRTC_ERROR_COMPILATION = 6;

    final NativeLib lib;
    private final MethodHandle version, create, compile, logSize, log, ptxSize, ptx, cubinSize, cubin, destroy, errorString;

    private Nvrtc(NativeLib lib) {
        this.lib = lib;
        version = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "nvrtcVersion");
        create = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_INT, ADDRESS, ADDRESS),
                "nvrtcCreateProgram");
        compile = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS), "nvrtcCompileProgram");
        FunctionDescriptor sizeFd = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS);
        logSize = lib.fn(sizeFd, "nvrtcGetProgramLogSize");
        log = lib.fn(sizeFd, "nvrtcGetProgramLog");
        ptxSize = lib.fn(sizeFd, "nvrtcGetPTXSize");
        ptx = lib.fn(sizeFd, "nvrtcGetPTX");
        cubinSize = lib.fn(sizeFd, "nvrtcGetCUBINSize");
        cubin = lib.fn(sizeFd, "nvrtcGetCUBIN");
        destroy = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS), "nvrtcDestroyProgram");
        errorString = lib.fn(FunctionDescriptor.of(ADDRESS, JAVA_INT), "nvrtcGetErrorString");
    }

    static Nvrtc load() {
        return new Nvrtc(NativeLib.load("NVRTC (the CUDA runtime compiler)", FIX,
                "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"));
    }

    /** "13.0" */
    String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment maj = a.allocate(JAVA_INT), min = a.allocate(JAVA_INT);
            call("nvrtcVersion", version, maj, min);
            return maj.get(JAVA_INT, 0) + "." + min.get(JAVA_INT, 0);
        }
    }

    /** NVRTC's output: cubin when compiled for sm_XY, PTX (NUL-terminated) for compute_XY; the log even on success. */
    record Output(byte[] image, boolean isCubin, String log) {
    }

    /** Compiles {@code source} named {@code programName} with {@code options} (which include -arch). */
    Output compile(String source, String programName, List<String> options) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment progPtr = a.allocate(ADDRESS);
            call("nvrtcCreateProgram", create, progPtr, a.allocateFrom(source), a.allocateFrom(programName), 0,
                    MemorySegment.NULL, MemorySegment.NULL);
            MemorySegment prog = progPtr.get(ADDRESS, 0);
            try {
                MemorySegment opts = a.allocate(ADDRESS, Math.max(1, options.size()));
                for (int i = 0; i < options.size(); i++) opts.setAtIndex(ADDRESS, i, a.allocateFrom(options.get(i)));
                int r = NativeLib.status("nvrtcCompileProgram", compile, prog, options.size(), opts);
                String logText = fetch(a, prog, logSize, log, "nvrtcGetProgramLog", true);
                if (r == NVRTC_ERROR_COMPILATION) {
                    throw new CompileException(programName, String.join(" ", options), source, logText);
                }
                check("nvrtcCompileProgram", r);
                boolean toCubin = options.stream().anyMatch(o -> o.startsWith("-arch=sm_") || o.startsWith("--gpu-architecture=sm_"));
                byte[] image = toCubin ? fetchBytes(a, prog, cubinSize, cubin, "nvrtcGetCUBIN", false)
                        : fetchBytes(a, prog, ptxSize, ptx, "nvrtcGetPTX", true);
                return new Output(image, toCubin, logText);
            } finally {
                call("nvrtcDestroyProgram", destroy, progPtr);
            }
        }
    }

    private String fetch(Arena a, MemorySegment prog, MethodHandle size, MethodHandle get, String name, boolean text) {
        byte[] b = fetchBytes(a, prog, size, get, name, text);
        return new String(b, 0, Math.max(0, b.length - 1), java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Size then contents; text outputs keep their trailing NUL (cuModuleLoadData needs it for PTX). */
    private byte[] fetchBytes(Arena a, MemorySegment prog, MethodHandle size, MethodHandle get, String name, boolean text) {
        MemorySegment n = a.allocate(JAVA_LONG);
        call(name + "Size", size, prog, n);
        long len = n.get(JAVA_LONG, 0);
        MemorySegment buf = a.allocate(Math.max(1, len));
        call(name, get, prog, buf);
        return buf.asSlice(0, len).toArray(JAVA_BYTE);
    }

    private void call(String name, MethodHandle h, Object... args) {
        check(name, NativeLib.status(name, h, args));
    }

    private void check(String name, int r) {
        if (r == 0) return;
        String text;
        try {
            text = Driver.cString((MemorySegment) errorString.invokeExact(r));
        } catch (Throwable t) {
            text = "nvrtcResult " + r;
        }
        throw new CudaException(name + " failed: " + text + " (code " + r + ")");
    }
}
