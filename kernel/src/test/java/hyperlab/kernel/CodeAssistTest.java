package hyperlab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class CodeAssistTest {

    private static Evaluator ev;
    private static CodeAssist assist;

    @BeforeAll
    static void start() {
        ev = new Evaluator(DefaultImports.resolve(CodeAssistTest.class.getClassLoader()));
        assist = new CodeAssist(ev);
    }

    @AfterAll
    static void stop() {
        ev.close();
    }

    @Test
    void completesMembers() {
        CodeAssist.Completions c = assist.complete("Math.ab", 7);
        assertTrue(c.options().contains("abs("), c.options().toString());
        assertEquals(5, c.start());
        assertEquals(7, c.end());
    }

    @Test
    void completesDefaultImports() {
        assertTrue(assist.complete("XYCh", 4).options().stream().anyMatch(o -> o.startsWith("XYChart")));
    }

    @Test
    void inspectGivesSignatureAndJavadoc() {
        String doc = assist.inspect("Math.abs(", 9);
        assertTrue(doc.contains("int Math.abs(int a)"), doc);
    }

    @Test
    void classifiesCompleteness() {
        assertEquals(BaseKernel.IS_COMPLETE_YES, assist.isComplete("1 + 1"));
        assertEquals(BaseKernel.IS_COMPLETE_YES, assist.isComplete("int x = 1;\nx"));
        assertEquals(CodeAssist.INDENT, assist.isComplete("for (int i = 0; i < 3; i++) {"));
        assertEquals(BaseKernel.IS_COMPLETE_BAD, assist.isComplete("int x = ;"));
        assertEquals(BaseKernel.IS_COMPLETE_YES, assist.isComplete("%lsmagic"));
    }
}
