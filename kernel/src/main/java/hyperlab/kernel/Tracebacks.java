package hyperlab.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import jdk.jshell.EvalException;
import jdk.jshell.JShellException;
import jdk.jshell.UnresolvedReferenceException;

/**
 * Builds the traceback of a runtime error from the user's point of view: frames below the last
 * snippet frame (reflection, JShell, this kernel) are dropped, snippet frames name cell and line.
 */
final class Tracebacks {

    private Tracebacks() {
    }

    /** Snippet frames' file names are {@code #id}; {@code origins} says which cell and line each id started at. */
    static CellError of(JShellException e, Map<String, SnippetOrigin> origins) {
        if (e instanceof UnresolvedReferenceException u) {
            String what = u.getSnippet().source().strip();
            String msg = "a definition used here is not complete yet (it refers to something undefined): " + what;
            return new CellError("UnresolvedReference", msg, List.of("UnresolvedReference: " + msg));
        }
        EvalException ee = (EvalException) e;
        List<String> lines = new ArrayList<>();
        appendThrowable(lines, ee, origins, "");
        return new CellError(ee.getExceptionClassName(), ee.getMessage(), lines);
    }

    private static void appendThrowable(List<String> lines, Throwable t, Map<String, SnippetOrigin> origins,
            String prefix) {
        String name = t instanceof EvalException ee ? ee.getExceptionClassName() : t.getClass().getName();
        lines.add(prefix + name + (t.getMessage() == null ? "" : ": " + t.getMessage()));
        StackTraceElement[] frames = t.getStackTrace();
        int last = lastSnippetFrame(frames);
        int end = last < 0 ? frames.length : last + 1;
        for (int i = 0; i < end; i++) {
            if (!isMachinery(frames[i])) {
                lines.add("    at " + describe(frames[i], origins));
            }
        }
        if (t.getCause() != null && t.getCause() != t) {
            appendThrowable(lines, t.getCause(), origins, "Caused by: ");
        }
    }

    private static int lastSnippetFrame(StackTraceElement[] frames) {
        for (int i = frames.length - 1; i >= 0; i--) {
            if (isSnippet(frames[i])) {
                return i;
            }
        }
        return -1;
    }

    private static boolean isSnippet(StackTraceElement f) {
        return f.getClassName().startsWith("REPL.") || (f.getFileName() != null && f.getFileName().startsWith("#"));
    }

    private static boolean isMachinery(StackTraceElement f) {
        String c = f.getClassName();
        return c.startsWith("jdk.jshell.") || c.startsWith("hyperlab.kernel.") || c.startsWith("REPL.$Cancel$")
                || c.startsWith("java.lang.reflect.") || c.startsWith("jdk.internal.reflect.");
    }

    private static String describe(StackTraceElement f, Map<String, SnippetOrigin> origins) {
        String file = f.getFileName();
        if (file != null && file.startsWith("#")) {
            String method = "do_it$".equals(f.getMethodName()) ? "cell" : f.getMethodName();
            SnippetOrigin o = origins.get(file.substring(1));
            if (o != null) {
                return method + "(cell " + o.cell() + ", line " + (o.firstLine() + Math.max(f.getLineNumber(), 1) - 1) + ")";
            }
            return method + "(snippet " + file + ", line " + f.getLineNumber() + ")";
        }
        return f.toString();
    }
}
