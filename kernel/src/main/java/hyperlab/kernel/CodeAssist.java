package hyperlab.kernel;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.SourceCodeAnalysis.Completeness;
import jdk.jshell.SourceCodeAnalysis.CompletionInfo;
import org.dflib.jjava.jupyter.kernel.BaseKernel;

/** Completion, documentation and completeness checks for the notebook, all from JShell's source analysis. */
final class CodeAssist {

    /** What the front end should insert after an unfinished line. */
    static final String INDENT = "    ";

    private final Evaluator evaluator;

    CodeAssist(Evaluator evaluator) {
        this.evaluator = evaluator;
    }

    /** Completions for the code before {@code cursor}, and the start of the text they replace. */
    Completions complete(String code, int cursor) {
        int[] anchor = new int[1];
        List<SourceCodeAnalysis.Suggestion> suggestions =
                evaluator.analysis().completionSuggestions(code, cursor, anchor);
        Set<String> options = new LinkedHashSet<>();
        suggestions.stream().filter(SourceCodeAnalysis.Suggestion::matchesType)
                .forEach(s -> options.add(s.continuation()));
        suggestions.forEach(s -> options.add(s.continuation()));
        return new Completions(List.copyOf(options), anchor[0], cursor);
    }

    /** Signatures and javadoc of what is under the cursor, as plain text; empty when nothing is known. */
    String inspect(String code, int cursor) {
        List<SourceCodeAnalysis.Documentation> docs = evaluator.analysis().documentation(code, cursor, true);
        if (docs.isEmpty() && cursor > 0 && Character.isJavaIdentifierPart(code.charAt(cursor - 1))) {
            // JShell documents invocations; a bare method name under the cursor is treated as one.
            String call = code.substring(0, cursor) + "(" + code.substring(cursor);
            docs = evaluator.analysis().documentation(call, cursor + 1, true);
        }
        return docs.stream()
                .map(d -> d.javadoc() == null || d.javadoc().isBlank()
                        ? d.signature() : d.signature() + "\n\n" + d.javadoc().strip())
                .collect(Collectors.joining("\n\n"));
    }

    /** Jupyter's is_complete answer: complete, invalid, or the indent to continue an unfinished cell. */
    String isComplete(String code) {
        if (code.stripLeading().startsWith("%")) {
            return code.stripLeading().startsWith("%%") && !code.contains("\n") ? INDENT : BaseKernel.IS_COMPLETE_YES;
        }
        String rest = code;
        while (!rest.isBlank()) {
            CompletionInfo info = evaluator.analysis().analyzeCompletion(rest);
            Completeness c = info.completeness();
            if (c == Completeness.EMPTY) {
                break;
            }
            if (c == Completeness.DEFINITELY_INCOMPLETE || c == Completeness.CONSIDERED_INCOMPLETE) {
                return INDENT;
            }
            if (c == Completeness.UNKNOWN) {
                return BaseKernel.IS_COMPLETE_BAD;
            }
            rest = info.remaining();
        }
        return BaseKernel.IS_COMPLETE_YES;
    }

    /** Replacement candidates for the text between {@code start} and {@code end}. */
    record Completions(List<String> options, int start, int end) {
    }
}
