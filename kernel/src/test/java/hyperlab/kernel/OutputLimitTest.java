package hyperlab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class OutputLimitTest {

    @Test
    void outputPastTheBudgetIsDroppedWithOneNotice() {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        OutputLimit limit = new OutputLimit(100);
        PrintStream out = limit.wrap(new PrintStream(sink, true, StandardCharsets.UTF_8));
        for (int i = 0; i < 1000; i++) {
            out.println("line " + i);
        }
        limit.close();
        String text = sink.toString(StandardCharsets.UTF_8);
        assertTrue(text.startsWith("line 0\nline 1\n"), text);
        assertEquals(1, text.split("output truncated", -1).length - 1, text);
        assertTrue(text.length() < 300, "kept " + text.length() + " chars");
    }
}
