package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** Downcalls into the CUDA driver API (libcuda.so.1); every status is checked and turned into a named CudaException. */
final class Driver {
    static final String FIX = "Install the NVIDIA driver (it provides libcuda.so.1) or run on a machine with an NVIDIA GPU; "
            + "`nvidia-smi` should list the GPU. Cuda.isAvailable() tells tests and notebooks whether to skip.";
    static final int ATTR_MULTIPROCESSOR_COUNT = 16;
    static final int ATTR_CC_MAJOR = 75;
    static final int ATTR_CC_MINOR = 76;
    static final int FUNC_ATTR_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8;

    final NativeLib lib;
    private final MethodHandle getErrorName, getErrorString;
    final MethodHandle init, driverGetVersion, deviceGetCount, deviceGet, deviceGetName, deviceGetAttribute, deviceTotalMem;
    final MethodHandle primaryCtxRetain, ctxSetCurrent, ctxSynchronize, memGetInfo;
    final MethodHandle streamCreate, streamSynchronize, streamDestroy;
    final MethodHandle eventCreate, eventRecord, eventSynchronize, eventElapsedTime, eventDestroy;
    final MethodHandle memAlloc, memFree, memcpyHtoDAsync, memcpyDtoHAsync, memcpyDtoDAsync, memsetD8Async;
    final MethodHandle moduleLoadData, moduleGetFunction, moduleUnload, funcSetAttribute, launchKernel;
    final MethodHandle streamBeginCapture, streamEndCapture, graphInstantiate, graphLaunch, graphExecDestroy, graphDestroy;

    private Driver(NativeLib lib) {
        this.lib = lib;
        FunctionDescriptor iAi = FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT);
        FunctionDescriptor iA = FunctionDescriptor.of(JAVA_INT, ADDRESS);
        getErrorName = lib.fn(FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), "cuGetErrorName");
        getErrorString = lib.fn(FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), "cuGetErrorString");
        init = lib.fn(FunctionDescriptor.of(JAVA_INT, JAVA_INT), "cuInit");
        driverGetVersion = lib.fn(iA, "cuDriverGetVersion");
        deviceGetCount = lib.fn(iA, "cuDeviceGetCount");
        deviceGet = lib.fn(iAi, "cuDeviceGet");
        deviceGetName = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), "cuDeviceGetName");
        deviceGetAttribute = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), "cuDeviceGetAttribute");
        deviceTotalMem = lib.fn(iAi, "cuDeviceTotalMem_v2", "cuDeviceTotalMem");
        primaryCtxRetain = lib.fn(iAi, "cuDevicePrimaryCtxRetain");
        ctxSetCurrent = lib.fn(iA, "cuCtxSetCurrent");
        ctxSynchronize = lib.fn(FunctionDescriptor.of(JAVA_INT), "cuCtxSynchronize");
        memGetInfo = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "cuMemGetInfo_v2", "cuMemGetInfo");
        streamCreate = lib.fn(iAi, "cuStreamCreate");
        streamSynchronize = lib.fn(iA, "cuStreamSynchronize");
        streamDestroy = lib.fn(iA, "cuStreamDestroy_v2", "cuStreamDestroy");
        eventCreate = lib.fn(iAi, "cuEventCreate");
        eventRecord = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "cuEventRecord");
        eventSynchronize = lib.fn(iA, "cuEventSynchronize");
        eventElapsedTime = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS),
                "cuEventElapsedTime_v2", "cuEventElapsedTime");
        eventDestroy = lib.fn(iA, "cuEventDestroy_v2", "cuEventDestroy");
        memAlloc = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), "cuMemAlloc_v2", "cuMemAlloc");
        memFree = lib.fn(FunctionDescriptor.of(JAVA_INT, JAVA_LONG), "cuMemFree_v2", "cuMemFree");
        memcpyHtoDAsync = lib.fn(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, ADDRESS, JAVA_LONG, ADDRESS),
                "cuMemcpyHtoDAsync_v2", "cuMemcpyHtoDAsync");
        memcpyDtoHAsync = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG, ADDRESS),
                "cuMemcpyDtoHAsync_v2", "cuMemcpyDtoHAsync");
        memcpyDtoDAsync = lib.fn(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_LONG, JAVA_LONG, ADDRESS),
                "cuMemcpyDtoDAsync_v2", "cuMemcpyDtoDAsync");
        memsetD8Async = lib.fn(FunctionDescriptor.of(JAVA_INT, JAVA_LONG, JAVA_INT, JAVA_LONG, ADDRESS), "cuMemsetD8Async");
        moduleLoadData = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "cuModuleLoadData");
        moduleGetFunction = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS), "cuModuleGetFunction");
        moduleUnload = lib.fn(iA, "cuModuleUnload");
        funcSetAttribute = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), "cuFuncSetAttribute");
        launchKernel = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT,
                JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, ADDRESS), "cuLaunchKernel");
        streamBeginCapture = lib.fn(iAi, "cuStreamBeginCapture_v2");
        streamEndCapture = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "cuStreamEndCapture");
        graphInstantiate = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG), "cuGraphInstantiateWithFlags");
        graphLaunch = lib.fn(FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS), "cuGraphLaunch");
        graphExecDestroy = lib.fn(iA, "cuGraphExecDestroy");
        graphDestroy = lib.fn(iA, "cuGraphDestroy");
    }

    /** cuStreamBeginCapture's mode that forbids unsafe calls (a sync, an allocation) on the capturing thread only. */
    static final int CAPTURE_MODE_THREAD_LOCAL = 1;

    /** Loads libcuda and runs cuInit(0); throws a CudaException saying what is missing and how to fix it. */
    static Driver load() {
        Driver d = new Driver(NativeLib.load("The CUDA driver library", FIX, "libcuda.so.1", "libcuda.so"));
        int r = NativeLib.status("cuInit", d.init, 0);
        if (r == 100) throw new CudaException("cuInit found no CUDA device (CUDA_ERROR_NO_DEVICE). " + FIX);
        d.check("cuInit", r);
        return d;
    }

    /** Invokes {@code h} and throws unless it returned CUDA_SUCCESS. */
    void call(String name, MethodHandle h, Object... args) {
        check(name, NativeLib.status(name, h, args));
    }

    void check(String name, int status) {
        if (status != 0) throw new CudaException(name + " failed: " + errorText(status));
    }

    /** "CUDA_ERROR_X (code n): CUDA's description". */
    String errorText(int status) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment p = a.allocate(ADDRESS);
            String nm = (int) getErrorName.invokeExact(status, p) == 0 ? cString(p.get(ADDRESS, 0)) : "unknown CUresult";
            String desc = (int) getErrorString.invokeExact(status, p) == 0 ? cString(p.get(ADDRESS, 0)) : "";
            return nm + " (code " + status + ")" + (desc.isEmpty() ? "" : ": " + desc);
        } catch (Throwable t) {
            return "CUresult " + status;
        }
    }

    static String cString(MemorySegment p) {
        return p.equals(MemorySegment.NULL) ? "" : p.reinterpret(Long.MAX_VALUE).getString(0);
    }

    /** cuDriverGetVersion as "13.0". */
    String version() {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment v = a.allocate(JAVA_INT);
            call("cuDriverGetVersion", driverGetVersion, v);
            int x = v.get(JAVA_INT, 0);
            return (x / 1000) + "." + (x % 1000) / 10;
        }
    }

    float elapsedMs(MemorySegment start, MemorySegment end) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ms = a.allocate(JAVA_FLOAT);
            call("cuEventElapsedTime", eventElapsedTime, ms, start, end);
            return ms.get(JAVA_FLOAT, 0);
        }
    }
}
