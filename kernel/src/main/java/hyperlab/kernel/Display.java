package hyperlab.kernel;

import java.util.UUID;
import org.dflib.jjava.jupyter.kernel.BaseKernel;
import org.dflib.jjava.jupyter.kernel.display.DisplayData;

/**
 * Display helpers for cells (statically imported into every session): show any object now, redraw
 * it in place later (a training loop's chart or progress line), or emit Markdown/HTML.
 */
public final class Display {

    private static volatile BaseKernel kernel;

    private Display() {
    }

    static void attach(BaseKernel k) {
        kernel = k;
    }

    /** Renders {@code value} as a new output now and returns its display id for {@link #updateDisplay}. */
    public static String display(Object value) {
        DisplayData data = render(value);
        String id = UUID.randomUUID().toString();
        data.setDisplayId(id);
        kernel().display(data);
        return id;
    }

    /** Replaces the output created by {@link #display} with {@code value}'s rendering. */
    public static void updateDisplay(String id, Object value) {
        kernel().getIO().display.updateDisplay(id, render(value));
    }

    /** Shows Markdown text. */
    public static void markdown(String markdown) {
        DisplayData data = new DisplayData(markdown);
        data.putMarkdown(markdown);
        kernel().display(data);
    }

    /** Shows an HTML fragment. */
    public static void html(String html) {
        DisplayData data = new DisplayData(html);
        data.putHTML(html);
        kernel().display(data);
    }

    /** Clears the cell's output; with {@code wait}, only once new output arrives (no flicker in loops). */
    public static void clearOutput(boolean wait) {
        if (!(kernel() instanceof HyperLabKernel k)) {
            throw new IllegalStateException("clearOutput works only inside a running HyperLab kernel");
        }
        k.clearOutput(wait);
    }

    private static DisplayData render(Object value) {
        return value instanceof DisplayData d ? d : kernel().getRenderer().render(value);
    }

    private static BaseKernel kernel() {
        BaseKernel k = kernel;
        if (k == null) {
            throw new IllegalStateException("display helpers work only inside a running HyperLab kernel");
        }
        return k;
    }
}
