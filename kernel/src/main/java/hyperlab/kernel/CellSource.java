package hyperlab.kernel;

import java.util.ArrayList;
import java.util.List;

/**
 * A cell split the way the kernel runs it: an optional {@code %%cell} magic owning the whole body,
 * else Java code blocks interleaved with {@code %line} magics, each knowing its first cell line.
 */
record CellSource(String cellMagic, List<String> cellMagicArgs, String body, List<Part> parts) {

    /** A block of Java code, or a line magic when {@code magic} is not null. */
    record Part(String magic, List<String> args, String code, int firstLine) {
    }

    static CellSource parse(String cell) {
        String trimmed = cell.stripLeading();
        if (trimmed.startsWith("%%")) {
            int nl = trimmed.indexOf('\n');
            String head = nl < 0 ? trimmed.substring(2) : trimmed.substring(2, nl);
            String body = nl < 0 ? "" : trimmed.substring(nl + 1);
            List<String> words = words(head);
            return new CellSource(words.getFirst(), words.subList(1, words.size()), body, List.of());
        }
        List<Part> parts = new ArrayList<>();
        String[] lines = cell.split("\n", -1);
        StringBuilder code = new StringBuilder();
        int codeStart = 1;
        for (int i = 0; i < lines.length; i++) {
            String line = lines[i].strip();
            if (line.startsWith("%") && !line.startsWith("%%") && line.length() > 1) {
                if (!code.toString().isBlank()) {
                    parts.add(new Part(null, List.of(), code.toString(), codeStart));
                }
                List<String> words = words(line.substring(1));
                parts.add(new Part(words.getFirst(), words.subList(1, words.size()), null, i + 1));
                code.setLength(0);
                codeStart = i + 2;
            } else {
                code.append(lines[i]).append('\n');
            }
        }
        if (!code.toString().isBlank()) {
            parts.add(new Part(null, List.of(), code.toString(), codeStart));
        }
        return new CellSource(null, List.of(), null, parts);
    }

    private static List<String> words(String s) {
        List<String> out = new ArrayList<>(List.of(s.strip().split("\\s+")));
        if (out.isEmpty()) {
            out.add("");
        }
        return out;
    }
}
