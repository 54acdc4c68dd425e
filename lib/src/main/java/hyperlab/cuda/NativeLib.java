package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.util.List;
import java.util.Optional;

/** A shared library found by probing candidate names, so CUDA 13 and 12 installs both work; it remembers which one loaded. */
record NativeLib(String loadedName, SymbolLookup lookup) {
    static final Linker LINKER = Linker.nativeLinker();

    /** Loads the first candidate that the dynamic loader finds; otherwise throws naming all tried and how to fix it. */
    static NativeLib load(String what, String fix, String... candidates) {
        for (String name : candidates) {
            try {
                return new NativeLib(name, SymbolLookup.libraryLookup(name, Arena.global()));
            } catch (IllegalArgumentException notFound) {
                // try the next name
            }
        }
        throw new CudaException(what + " not found (tried " + String.join(", ", List.of(candidates))
                + " on the default library path). " + fix);
    }

    /** A downcall to the first exported name among {@code names} (e.g. "cuMemAlloc_v2", then "cuMemAlloc"). */
    MethodHandle fn(FunctionDescriptor fd, String... names) {
        for (String n : names) {
            Optional<MemorySegment> sym = lookup.find(n);
            if (sym.isPresent()) return LINKER.downcallHandle(sym.get(), fd);
        }
        throw new CudaException(loadedName + " exports none of " + List.of(names) + "; is it too old?");
    }

    /** Calls a downcall that returns a status code (CUresult, nvrtcResult, cublasStatus_t) and returns it. */
    static int status(String name, MethodHandle h, Object... args) {
        try {
            return (int) h.invokeWithArguments(args);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException(name + " could not be called: " + t, t);
        }
    }
}
