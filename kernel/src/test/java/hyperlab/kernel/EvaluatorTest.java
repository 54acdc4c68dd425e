package hyperlab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class EvaluatorTest {

    private static Evaluator ev;

    @BeforeAll
    static void start() {
        ev = new Evaluator(DefaultImports.resolve(EvaluatorTest.class.getClassLoader()));
    }

    @AfterAll
    static void stop() {
        ev.close();
    }

    @Test
    void lastExpressionIsTheRealObject() throws CellError {
        assertEquals(2, ev.eval("1 + 1", 1).value());
        CellValue img = ev.eval("var img = new java.awt.image.BufferedImage(3, 2, java.awt.image.BufferedImage.TYPE_INT_RGB);\nimg", 1);
        assertEquals(3, assertInstanceOf(BufferedImage.class, img.value()).getWidth());
        assertEquals(List.of(1, 2), ev.eval("List.of(1, 2)", 1).value());
    }

    @Test
    void statementsAndDeclarationsHaveNoValue() throws CellError {
        assertFalse(ev.eval("int declared = 4;", 1).present());
        assertFalse(ev.eval("System.out.print(\"\")", 1).present());
        assertEquals(8, ev.eval("declared * 2", 1).value());
    }

    @Test
    void cellsThatDeclareNothingLeaveNoSnippetBehind() throws CellError {
        ev.eval("int kept = 3;", 1);
        long live = ev.liveSnippets();
        for (int i = 0; i < 20; i++) {
            assertEquals(2, ev.eval("1 + 1", 1).value());
            ev.eval("System.out.print(\"\");\nkept", 1);
            ev.eval("for (int j = 0; j < 2; j++) { kept += 0; }", 1);
        }
        assertEquals(live, ev.liveSnippets(), "statements, expressions and $N temporaries are dropped after they run");
        assertEquals(6, ev.eval("kept * 2", 1).value(), "declarations stay");
        ev.eval("int kept2 = kept + 1;", 1);
        assertEquals(live + 1, ev.liveSnippets());
    }

    @Test
    void nullIsAValue() throws CellError {
        CellValue v = ev.eval("(String) null", 1);
        assertTrue(v.present());
        assertEquals(null, v.value());
    }

    @Test
    void compileErrorNamesCellLineAndColumn() {
        CellError e = assertThrows(CellError.class, () -> ev.eval("int ok = 1;\nint bad = \"text\";", 1));
        assertEquals("CompileError", e.ename());
        assertTrue(e.evalue().startsWith("line 2, column 11:"), e.evalue());
        assertTrue(e.traceback().stream().anyMatch(l -> l.contains("int bad = \"text\";")), e.traceback().toString());
    }

    @Test
    void runtimeErrorIsTrimmedToUserFrames() {
        CellError e = assertThrows(CellError.class,
                () -> ev.eval("int divide(int a) {\n  return 10 / a;\n}\ndivide(0)", 1));
        assertEquals("java.lang.ArithmeticException", e.ename());
        assertEquals("/ by zero", e.evalue());
        assertTrue(e.traceback().get(1).contains("divide(cell"), e.traceback().toString());
        assertTrue(e.traceback().get(1).contains("line 2)"), e.traceback().toString());
        assertTrue(e.traceback().stream().noneMatch(l -> l.contains("jdk.jshell") || l.contains("reflect")),
                e.traceback().toString());
    }

    @Test
    void causesAreKept() {
        CellError e = assertThrows(CellError.class,
                () -> ev.eval("throw new RuntimeException(\"outer\", new IllegalStateException(\"inner\"));", 1));
        assertEquals("java.lang.RuntimeException", e.ename());
        assertTrue(e.traceback().stream().anyMatch(l -> l.equals("Caused by: java.lang.IllegalStateException: inner")),
                e.traceback().toString());
    }

    @Test
    void callingAMethodWithAnUndefinedDependencyIsNamed() {
        CellError e = assertThrows(CellError.class, () -> ev.eval("void usesMissing() { notDefinedYet(); }\nusesMissing()", 1));
        assertEquals("UnresolvedReference", e.ename());
        assertTrue(e.evalue().contains("usesMissing"), e.evalue());
    }

    @Test
    void unfinishedCellIsAnError() {
        CellError e = assertThrows(CellError.class, () -> ev.eval("for (int i = 0; i < 3; i++) {", 1));
        assertTrue(e.evalue().contains("unfinished"), e.evalue());
    }

    @Test
    void systemExitIsRefusedAndTheEvaluatorLives() throws CellError {
        CellError e = assertThrows(CellError.class, () -> ev.eval("System.exit(3)", 1));
        assertEquals(ExitRefusedException.class.getName(), e.ename());
        assertTrue(e.evalue().contains("System.exit(3)"));
        assertThrows(CellError.class, () -> ev.eval("Runtime.getRuntime().halt(1)", 1));
        assertEquals("alive", ev.eval("\"alive\"", 1).value());
    }

    @Test
    void stopEndsAnEndlessLoop() throws CellError {
        assertInterrupted("while (true) { }");
        assertInterrupted("while (true) { try { Thread.sleep(50); } catch (InterruptedException e) { } }");
        assertInterrupted("while (true) Thread.sleep(50);");
        assertEquals(3, ev.eval("1 + 2", 1).value());
    }

    private static void assertInterrupted(String loop) {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try {
            timer.schedule(ev::stop, 300, TimeUnit.MILLISECONDS);
            CellError e = assertThrows(CellError.class, () -> ev.eval(loop, 1));
            assertEquals("Interrupted", e.ename(), loop);
        } finally {
            timer.shutdownNow();
        }
    }
}
