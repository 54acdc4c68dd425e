package hyperlab.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

/**
 * Runs CUDA C kernels on the CPU: the source is compiled by g++ with resources/hyperlab/cuda/emu/cuda_emu.h in front
 * (threads become fibers, blocks run in turn) into a shared library loaded through FFM, and "device memory" is host
 * memory. It lets a machine without a GPU, such as CI, execute the very kernels the GPU runs against CPU references.
 * Far slower than a GPU and blind to races; use it for correctness on small shapes only.
 */
final class Emulator {
    private static final Pattern KERNEL = Pattern.compile(
            "extern\\s+\"C\"\\s+__global__\\s+(?:__launch_bounds__\\([^)]*\\)\\s+)?void\\s+(?:__launch_bounds__\\([^)]*\\)\\s+)?(\\w+)\\s*\\(");
    private static final Pattern DYNAMIC_SHARED = Pattern.compile(
            "extern\\s+__shared__\\s+(?:__align__\\(\\d+\\)\\s+)?([\\w ]+?)\\s+(\\w+)\\s*\\[\\s*\\]\\s*;");

    private final String compiler;
    private final Path cacheDir;
    private final Map<Long, Arena> allocations = new HashMap<>();

    private Emulator(String compiler, Path cacheDir) {
        this.compiler = compiler;
        this.cacheDir = cacheDir;
    }

    /** The emulator with the first C++ compiler found (g++, then c++, then clang++), or an exception saying what is missing. */
    static Emulator load() {
        for (String c : List.of("g++", "c++", "clang++")) {
            try {
                Process p = new ProcessBuilder(c, "--version").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(20, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    Path dir = Path.of(System.getProperty("java.io.tmpdir"), "hyperlab-emu-" + System.getProperty("user.name", "user"));
                    Files.createDirectories(dir);
                    return new Emulator(c, dir);
                }
            } catch (IOException e) {
                // not installed: try the next
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new CudaException("interrupted while looking for a C++ compiler");
            }
        }
        throw new CudaException("the CPU emulator needs a C++ compiler (g++, c++ or clang++) on the PATH: "
                + "install g++ (Debian: apt-get install g++)");
    }

    String compiler() {
        return compiler;
    }

    /** A loaded emulated module: its kernel table lookup and the launcher. */
    record Library(MethodHandle kernel, MethodHandle launch, MethodHandle error) {
    }

    /** Compiles {@code source} (cached by content) and loads it. {@code options} accepts -DNAME[=V]; others are ignored. */
    synchronized Library compile(String programName, String source, String... options) {
        String unit = translate(source);
        List<String> defines = new ArrayList<>();
        for (String o : options) if (o.startsWith("-D")) defines.add(o);
        String key = sha256(unit + "\n" + defines + "\n" + compiler + "\n" + header());
        Path so = cacheDir.resolve("emu-" + key.substring(0, 24) + ".so");
        if (!Files.exists(so)) build(programName, source, unit, defines, so);
        SymbolLookup lib = SymbolLookup.libraryLookup(so, Arena.global());
        var linker = NativeLib.LINKER;
        MethodHandle kernel = linker.downcallHandle(lib.find("hyperlab_emu_kernel").orElseThrow(),
                FunctionDescriptor.of(ADDRESS, ADDRESS));
        MethodHandle launch = linker.downcallHandle(lib.find("hyperlab_emu_launch").orElseThrow(),
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));
        MethodHandle error = linker.downcallHandle(lib.find("hyperlab_emu_error").orElseThrow(), FunctionDescriptor.of(ADDRESS));
        return new Library(kernel, launch, error);
    }

    /** The source with dynamic shared memory rewritten and a kernel table appended. */
    static String translate(String source) {
        Matcher m = DYNAMIC_SHARED.matcher(source);
        String body = m.replaceAll(r -> r.group(1) + "* " + r.group(2) + " = (" + r.group(1) + "*) emu_dynamic_shared();");
        List<String> names = new ArrayList<>();
        Matcher k = KERNEL.matcher(source);
        while (k.find()) names.add(k.group(1));
        StringBuilder sb = new StringBuilder("#include \"cuda_emu.h\"\n#line 1 \"source.cu\"\n").append(body)
                .append("\nstatic emu::Kernel hyperlab_emu_table[] = {\n");
        for (String n : names) sb.append("    {\"").append(n).append("\", [](void** a) { emu::invoke(").append(n).append(", a); }},\n");
        sb.append("    {nullptr, nullptr}};\n")
                .append("extern \"C\" void* hyperlab_emu_kernel(const char* name) {\n")
                .append("    for (emu::Kernel* k = hyperlab_emu_table; k->name; k++) if (!strcmp(k->name, name)) return k;\n")
                .append("    return nullptr;\n}\n");
        return sb.toString();
    }

    private void build(String programName, String source, String unit, List<String> defines, Path so) {
        try {
            Path dir = Files.createTempDirectory(cacheDir, "build");
            Files.writeString(dir.resolve("cuda_emu.h"), header());
            Files.writeString(dir.resolve("unit.cpp"), unit);
            Path tmp = dir.resolve("out.so");
            // -fno-gnu-unique: each module keeps its own static locals (__shared__ arrays in inline functions), even
            // when two modules define the same function
            List<String> cmd = new ArrayList<>(List.of(compiler, "-std=c++17", "-O1", "-shared", "-fPIC", "-w", "-fno-gnu-unique",
                    "-U_FORTIFY_SOURCE", "-D_FORTIFY_SOURCE=0", "-o", tmp.toString()));
            cmd.addAll(defines);
            cmd.add(dir.resolve("unit.cpp").toString());
            Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0)
                throw new CompileException(programName, "emulator: " + String.join(" ", cmd.subList(0, 4)), source,
                        log.replaceAll("source\\.cu:(\\d+):\\d+: ", programName + "($1): ").replace("source.cu:", programName + ":"));
            Files.move(tmp, so, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot build the emulated module in " + cacheDir + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new CudaException("interrupted while compiling " + programName + " for the emulator");
        }
    }

    private static String header() {
        try (InputStream in = Emulator.class.getClassLoader().getResourceAsStream("hyperlab/cuda/emu/cuda_emu.h")) {
            if (in == null) throw new CudaException("resource hyperlab/cuda/emu/cuda_emu.h is missing from the class path");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String sha256(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Host memory standing in for device memory, 256-byte aligned like cuMemAlloc's. */
    synchronized long alloc(long bytes) {
        Arena a = Arena.ofShared();
        long address = a.allocate(Math.max(1, bytes), 256).address();
        allocations.put(address, a);
        return address;
    }

    synchronized void free(long address) {
        Arena a = allocations.remove(address);
        if (a == null) throw new CudaException("emulator: free of " + address + ", which was not allocated or is freed already");
        a.close();
    }

    static MemorySegment segment(long address, long bytes) {
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }

    /** Launches a kernel; errors (a barrier deadlock, a bad block size) become a CudaException. */
    synchronized void launch(Library lib, MemorySegment kernel, String name, Dim3 grid, Dim3 block, int sharedBytes, MemorySegment params) {
        int r;
        try {
            r = (int) lib.launch().invokeExact(kernel, grid.x(), grid.y(), grid.z(), block.x(), block.y(), block.z(), sharedBytes, params);
            if (r != 0) {
                MemorySegment msg = (MemorySegment) lib.error().invokeExact();
                throw new CudaException("emulated launch of " + name + " failed: " + msg.reinterpret(512).getString(0));
            }
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new CudaException("emulated launch of " + name + " could not be called: " + t, t);
        }
    }
}
