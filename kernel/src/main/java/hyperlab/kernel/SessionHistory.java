package hyperlab.kernel;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.dflib.jjava.jupyter.kernel.history.HistoryEntry;
import org.dflib.jjava.jupyter.kernel.history.HistoryManager;

/** This session's executed cells (input and text result) for Jupyter's history requests: tail, range and search. */
final class SessionHistory implements HistoryManager {

    /** The kernel keeps no history across restarts, so every entry belongs to session 1. */
    static final int SESSION = 1;

    private final List<HistoryEntry> entries = new ArrayList<>();

    synchronized void add(int cellNumber, String input, String output) {
        entries.add(new HistoryTuple(SESSION, cellNumber, input, output, true));
    }

    @Override
    public synchronized List<HistoryEntry> lookupTail(int length, Set<ResultFlag> flags) {
        return shape(entries.subList(Math.max(0, entries.size() - length), entries.size()), flags);
    }

    @Override
    public synchronized List<HistoryEntry> lookupRange(int session, int start, int stop, Set<ResultFlag> flags) {
        return shape(entries.stream()
                .filter(e -> e.getSession() == session && e.getCellNumber() >= start && e.getCellNumber() < stop)
                .toList(), flags);
    }

    @Override
    public synchronized List<HistoryEntry> search(String glob, int length, Set<ResultFlag> flags) {
        Pattern p = Pattern.compile(globToRegex(glob), Pattern.DOTALL);
        List<HistoryEntry> found = entries.stream().filter(e -> p.matcher(e.getInput()).matches()).toList();
        if (flags.contains(ResultFlag.UNIQUE)) {
            Map<String, HistoryEntry> latest = new LinkedHashMap<>();
            found.forEach(e -> {
                latest.remove(e.getInput());
                latest.put(e.getInput(), e);
            });
            found = List.copyOf(latest.values());
        }
        int n = length <= 0 ? found.size() : Math.min(length, found.size());
        return shape(found.subList(found.size() - n, found.size()), flags);
    }

    private static List<HistoryEntry> shape(List<HistoryEntry> list, Set<ResultFlag> flags) {
        boolean withOutput = flags.contains(ResultFlag.INCLUDE_OUTPUT);
        return list.stream().<HistoryEntry>map(e ->
                new HistoryTuple(e.getSession(), e.getCellNumber(), e.getInput(), e.getOutput(), withOutput)).toList();
    }

    private static String globToRegex(String glob) {
        StringBuilder re = new StringBuilder();
        for (char c : glob.toCharArray()) {
            switch (c) {
                case '*' -> re.append(".*");
                case '?' -> re.append('.');
                default -> re.append(Pattern.quote(String.valueOf(c)));
            }
        }
        return re.toString();
    }
}
