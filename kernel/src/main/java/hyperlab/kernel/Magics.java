package hyperlab.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.dflib.jjava.jupyter.kernel.magic.CellMagic;
import org.dflib.jjava.jupyter.kernel.magic.LineMagic;

/** The kernel's magics: %classpath, %maven, %lsmagic, %%time and %%cuda. */
final class Magics {

    private Magics() {
    }

    static void registerAll(HyperLabKernel.Builder builder) {
        builder.lineMagic("classpath", (LineMagic<Void, HyperLabKernel>) Magics::classpath);
        builder.lineMagic("maven", (LineMagic<Void, HyperLabKernel>) Magics::maven);
        builder.lineMagic("lsmagic", (LineMagic<Void, HyperLabKernel>) Magics::lsmagic);
        builder.cellMagic("time", (CellMagic<Object, HyperLabKernel>) Magics::time);
        builder.cellMagic("cuda", (CellMagic<Object, HyperLabKernel>) Magics::cuda);
    }

    /**
     * {@code %%cuda NAME}: the rest of the cell is CUDA C; it is compiled for {@code Cuda.device()} (NVRTC for this
     * machine's GPU, or g++ for the CPU emulator where there is none) and the module becomes the variable NAME
     * (a {@code hyperlab.cuda.CudaModule}) for later cells. A compile error shows the compiler's log against the cell's lines.
     */
    static Object cuda(HyperLabKernel kernel, List<String> args, String body) throws CellError {
        if (args.size() != 1 || !javax.lang.model.SourceVersion.isIdentifier(args.get(0)))
            throw new IllegalArgumentException("usage: %%cuda NAME  (the cell below is CUDA C; NAME becomes a hyperlab.cuda.CudaModule), got: "
                    + String.join(" ", args));
        String name = args.get(0);
        CudaCells.put(name, hyperlab.cuda.Cuda.compile(body));
        kernel.runCode("hyperlab.cuda.CudaModule " + name + " = (hyperlab.cuda.CudaModule) hyperlab.kernel.CudaCells.take(\"" + name + "\");", 1);
        System.out.println("compiled " + name + " with NVRTC; launch with " + name + ".function(\"kernel_name\").launch(grid, block, sharedMem, args...)");
        return null;
    }

    /** {@code %classpath a.jar dir/ libs/*}: adds jars and class folders for later cells. */
    static Void classpath(HyperLabKernel kernel, List<String> args) throws IOException {
        if (args.isEmpty()) {
            throw new IllegalArgumentException("usage: %classpath PATH... (jar files, class folders, or dir/* for all jars in dir)");
        }
        for (String arg : args) {
            for (Path p : expand(arg)) {
                kernel.addToClasspath(p);
                System.out.println("added to class path: " + p);
            }
        }
        return null;
    }

    /** {@code %maven group:artifact:version ...}: resolves with dependencies and adds the jars. */
    static Void maven(HyperLabKernel kernel, List<String> args) throws Exception {
        if (args.isEmpty()) {
            throw new IllegalArgumentException("usage: %maven group:artifact:version[:classifier] ...");
        }
        List<Path> jars = MavenResolver.resolve(args);
        for (Path jar : jars) {
            kernel.addToClasspath(jar);
        }
        System.out.println("added " + jars.size() + " jars: "
                + String.join(", ", jars.stream().map(j -> j.getFileName().toString()).toList()));
        return null;
    }

    static Void lsmagic(HyperLabKernel kernel, List<String> args) {
        System.out.println("line magics: " + String.join(" ", prefixed("%", kernel.getMagicsRegistry().getLineMagicNames())));
        System.out.println("cell magics: " + String.join(" ", prefixed("%%", kernel.getMagicsRegistry().getCellMagicNames())));
        return null;
    }

    /** {@code %%time}: runs the cell and prints its wall time; the cell's value stays its result. */
    static Object time(HyperLabKernel kernel, List<String> args, String body) throws CellError {
        long start = System.nanoTime();
        try {
            CellValue v = kernel.runCode(body, 2);
            return v.present() ? v.value() : null;
        } finally {
            System.out.printf("Wall time: %.1f ms%n", (System.nanoTime() - start) / 1e6);
        }
    }

    private static List<String> prefixed(String prefix, java.util.Set<String> names) {
        return new TreeSet<>(names).stream().map(n -> prefix + n).toList();
    }

    private static List<Path> expand(String arg) throws IOException {
        if (arg.endsWith("/*")) {
            Path dir = Path.of(arg.substring(0, arg.length() - 2));
            if (!Files.isDirectory(dir)) {
                throw new IOException("no such folder: " + dir.toAbsolutePath());
            }
            try (Stream<Path> files = Files.list(dir)) {
                return files.filter(f -> f.toString().endsWith(".jar")).sorted().map(Path::toAbsolutePath).toList();
            }
        }
        Path p = Path.of(arg).toAbsolutePath();
        if (!Files.exists(p)) {
            throw new IOException("no such jar or folder: " + p);
        }
        return List.of(p);
    }
}
