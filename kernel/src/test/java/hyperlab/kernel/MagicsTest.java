package hyperlab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MagicsTest {

    private static HyperLabKernel kernel;

    @BeforeAll
    static void start() {
        kernel = HyperLabKernel.builder().build();
    }

    @AfterAll
    static void stop() {
        kernel.onShutdown(false);
    }

    @Test
    void classpathMagicMakesAFolderOfClassesUsable(@TempDir Path dir) throws Exception {
        Path src = Files.writeString(dir.resolve("Greeter.java"),
                "package demo; public class Greeter { public static String hi() { return \"hi from a folder\"; } }");
        Path classes = Files.createDirectories(dir.resolve("classes"));
        int rc = ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(), src.toString());
        assertEquals(0, rc);
        CellValue v = kernel.runCode("%classpath " + classes + "\ndemo.Greeter.hi()", 1);
        assertEquals("hi from a folder", v.value());
    }

    @Test
    void cudaMagicCompilesACellIntoAModuleThatLaterCellsLaunch() throws CellError {
        CellError usage = assertThrows(CellError.class, () -> kernel.runCode("%%cuda\n__global__ void f() {}", 1));
        assertTrue(usage.evalue().contains("usage: %%cuda NAME"), usage.evalue());
        CellError bad = assertThrows(CellError.class, () -> kernel.runCode("%%cuda 1x\n__global__ void f() {}", 1));
        assertTrue(bad.evalue().contains("got: 1x"), bad.evalue());
        org.junit.jupiter.api.Assumptions.assumeTrue(hyperlab.cuda.Cuda.isAvailable()
                || hyperlab.cuda.Cuda.emulatorUnavailableReason().isEmpty(), "neither a GPU nor a C++ compiler for the emulator");
        kernel.runCode("%%cuda k\nextern \"C\" __global__ void twice(float* x, int n) {\n"
                + "  int i = blockIdx.x * blockDim.x + threadIdx.x;\n  if (i < n) x[i] *= 2.f;\n}", 1);
        CellValue v = kernel.runCode("""
                var arena = hyperlab.cuda.Cuda.device().arena();
                var t = arena.of(hyperlab.cuda.DType.F32, new float[] {1, 2, 3});
                k.function("twice").launch(hyperlab.cuda.Dim3.of(1), hyperlab.cuda.Dim3.of(32), 0, t, 3);
                java.util.Arrays.toString(t.toFloatArray())""", 2);
        assertEquals("[2.0, 4.0, 6.0]", v.value());
        CellError broken = assertThrows(CellError.class, () -> kernel.runCode("%%cuda b\nextern \"C\" __global__ void f(float* x) {\n  x[0] = nope;\n}", 3));
        assertTrue(broken.evalue().contains("cell.cu(2): error"), broken.evalue());
    }

    @Test
    void classpathMagicRejectsMissingPaths() {
        CellError e = assertThrows(CellError.class, () -> kernel.runCode("%classpath /no/such.jar", 1));
        assertEquals("MagicError", e.ename());
        assertTrue(e.evalue().contains("/no/such.jar"), e.evalue());
    }

    @Test
    void timeMagicKeepsTheCellValue() throws CellError {
        assertEquals(42, kernel.runCode("%%time\nint h = 21;\nh * 2", 1).value());
    }

    @Test
    void unknownMagicIsNamed() {
        CellError e = assertThrows(CellError.class, () -> kernel.runCode("%nosuch", 1));
        assertEquals("UnknownMagic", e.ename());
    }

    @Test
    void errorsAfterALineMagicCountCellLines() {
        CellError e = assertThrows(CellError.class, () -> kernel.runCode("%lsmagic\nint x = \"s\";", 1));
        assertTrue(e.evalue().startsWith("line 2, column 9"), e.evalue());
    }

    @Test
    void mavenMagicMakesAnArtifactAndItsDependenciesUsable() throws CellError {
        // commons-text needs commons-lang3; neither is on the kernel's class path. Maven's own plugins
        // use both, so they usually come from the local repository, else from Maven Central.
        CellValue v = kernel.runCode("%maven org.apache.commons:commons-text:1.12.0\n"
                + "org.apache.commons.text.WordUtils.capitalize(\"hyper lab\")", 1);
        assertEquals("Hyper Lab", v.value());
    }

    @Test
    void mavenResolverFetchesAJarWithItsDependencies() throws Exception {
        // slf4j-simple depends on slf4j-api: both must come back (both are in the local repository after the build).
        List<Path> jars = MavenResolver.resolve(List.of("org.slf4j:slf4j-simple:2.0.17"));
        List<String> names = jars.stream().map(p -> p.getFileName().toString()).toList();
        assertTrue(names.contains("slf4j-simple-2.0.17.jar"), names.toString());
        assertTrue(names.contains("slf4j-api-2.0.17.jar"), names.toString());
    }
}
