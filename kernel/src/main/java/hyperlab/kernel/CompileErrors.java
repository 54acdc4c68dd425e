package hyperlab.kernel;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import jdk.jshell.Diag;

/** Turns javac diagnostics of one snippet into a {@link CellError} that points at cell line and column. */
final class CompileErrors {

    private CompileErrors() {
    }

    static CellError of(List<Diag> diags, String cell, int snippetOffset, int firstLine) {
        List<String> lines = new ArrayList<>();
        String first = null;
        for (Diag d : diags) {
            if (!d.isError()) {
                continue;
            }
            int pos = d.getStartPosition() < 0 ? 0 : (int) d.getStartPosition();
            CellPosition p = CellPosition.of(cell, snippetOffset + pos, firstLine);
            String message = d.getMessage(Locale.ROOT);
            String located = "line " + p.line() + ", column " + p.column() + ": " + message;
            if (first == null) {
                first = located;
            }
            lines.add("Compile error at " + located);
            String source = sourceLine(cell, p.line() - firstLine);
            lines.add("    " + source);
            lines.add("    " + " ".repeat(Math.max(0, p.column() - 1)) + "^");
        }
        if (first == null) {
            first = "the snippet was rejected";
            lines.add("Compile error: " + first);
        }
        return new CellError("CompileError", first, lines);
    }

    private static String sourceLine(String cell, int index) {
        String[] all = cell.split("\n", -1);
        return index >= 0 && index < all.length ? all[index] : "";
    }
}
