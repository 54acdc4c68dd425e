package hyperlab.kernel;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import jdk.jshell.ExpressionSnippet;
import jdk.jshell.JShell;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.SourceCodeAnalysis.Completeness;
import jdk.jshell.VarSnippet;

/**
 * Runs cells in an in-process JShell: splits a cell into snippets, evaluates them in order, stops
 * at the first error, and returns the last expression's real object.
 */
public final class Evaluator implements AutoCloseable {

    private final JShell shell;
    private final Map<String, SnippetOrigin> origins = new HashMap<>();
    private int cellCount;
    private volatile boolean stopRequested;

    public Evaluator(List<String> imports) {
        this.shell = JShell.builder()
                .executionEngine(new KernelExecutionProvider(), Map.of())
                .compilerOptions("-proc:none") // no annotation-processor scan on every cell's compile
                .build();
        for (String imp : imports) {
            List<SnippetEvent> events = shell.eval(imp);
            if (events.isEmpty() || events.getFirst().status() != Snippet.Status.VALID) {
                // A session without one convenience import beats no session: note it in the kernel log.
                events.forEach(e -> shell.drop(e.snippet()));
                System.err.println("hyperlab kernel: skipped default import that does not compile: " + imp);
            }
        }
    }

    /** Evaluates a cell whose first line is {@code firstLine} of the notebook cell (for error positions). */
    public CellValue eval(String cell, int firstLine) throws CellError {
        int cellNo = ++cellCount;
        stopRequested = false;
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        String rest = cell;
        CellValue result = CellValue.NONE;
        while (!rest.isBlank()) {
            int codeStart = cell.length() - rest.length() + leadingBlank(rest);
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(rest);
            if (info.completeness() == Completeness.EMPTY) {
                break;
            }
            if (!info.completeness().isComplete()) {
                CellPosition p = CellPosition.of(cell, codeStart, firstLine);
                String msg = "line " + p.line() + ": the cell ends inside an unfinished statement";
                throw new CellError("CompileError", msg, List.of("Compile error at " + msg));
            }
            // The snippet source may or may not keep the blank before it; align on its first code character.
            int sourceStart = codeStart - leadingBlank(info.source());
            result = evalSnippet(info.source(), cell, sourceStart, codeStart, firstLine, cellNo);
            rest = info.remaining();
        }
        return result;
    }

    private CellValue evalSnippet(String source, String cell, int sourceStart, int codeStart, int firstLine, int cellNo)
            throws CellError {
        SnippetHooks.reset();
        List<SnippetEvent> events = shell.eval(source);
        if (stopRequested) {
            String msg = "the cell was interrupted in the statement starting at line "
                    + CellPosition.of(cell, codeStart, firstLine).line();
            throw new CellError("Interrupted", msg, List.of("Interrupted: " + msg));
        }
        CellValue value = CellValue.NONE;
        try {
            for (SnippetEvent e : events) {
                if (e.causeSnippet() != null) {
                    continue;
                }
                Snippet s = e.snippet();
                origins.put(s.id(), new SnippetOrigin(cellNo, CellPosition.of(cell, codeStart, firstLine).line()));
                if (e.status() == Snippet.Status.REJECTED) {
                    throw CompileErrors.of(shell.diagnostics(s).toList(), cell, sourceStart, firstLine);
                }
                if (e.exception() != null) {
                    throw Tracebacks.of(e.exception(), origins);
                }
                if (showsValue(s) && SnippetHooks.hasValue()) {
                    value = CellValue.of(SnippetHooks.value());
                }
            }
            return value;
        } finally {
            dropTransient(events);
        }
    }

    /**
     * Drops what declares nothing once it has run: statements, expressions and their {@code $N} temporaries.
     * JShell re-checks every live snippet on each eval, so keeping them made each cell slower than the last
     * (a trivial cell went from 19 to 47 ms over 350 cells); declarations (variables, methods, classes,
     * imports) stay. The cost: a cell's value is not kept as {@code $N}; assign it to keep it.
     */
    private void dropTransient(List<SnippetEvent> events) {
        for (SnippetEvent e : events) {
            Snippet s = e.snippet();
            if (e.causeSnippet() == null && shell.status(s).isActive() && isTransient(s)) {
                shell.drop(s);
            }
        }
    }

    private static boolean isTransient(Snippet s) {
        return s.kind() == Snippet.Kind.STATEMENT || s.kind() == Snippet.Kind.EXPRESSION
                || s instanceof VarSnippet v && v.subKind() == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND;
    }

    /** Snippets JShell keeps active (declarations, and whatever a failed cell left behind). */
    long liveSnippets() {
        return shell.snippets().filter(s -> shell.status(s).isActive()).count();
    }

    private static boolean showsValue(Snippet s) {
        if (s instanceof ExpressionSnippet x) {
            return !"void".equals(x.typeName());
        }
        return s instanceof VarSnippet v && v.subKind() == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND;
    }

    private static int leadingBlank(String s) {
        int i = 0;
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }

    /** Interrupts the running snippet; JShell's stop-checks end even a tight endless loop. */
    public void stop() {
        stopRequested = true;
        shell.stop();
    }

    public void addToClasspath(String path) {
        shell.addToClasspath(path);
    }

    SourceCodeAnalysis analysis() {
        return shell.sourceCodeAnalysis();
    }

    @Override
    public void close() {
        shell.close();
    }
}
