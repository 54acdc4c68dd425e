package hyperlab.cuda;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** NVRTC rejected a source: the message carries NVRTC's log plus the numbered source lines it points at. */
public final class CompileException extends CudaException {
    private final String log;

    CompileException(String programName, String options, String source, String log) {
        super(format(programName, options, source, log));
        this.log = log;
    }

    /** NVRTC's log as it wrote it. */
    public String log() {
        return log;
    }

    /** The log, followed by each line it names ("cell.cu(3): error ...") quoted from the source with its number. */
    static String format(String programName, String options, String source, String log) {
        String tool = options.startsWith("emulator") ? "The CPU emulator's C++ compiler" : "NVRTC";
        StringBuilder sb = new StringBuilder(tool + " could not compile ").append(programName)
                .append(" (options: ").append(options).append("):\n").append(log.strip()).append('\n');
        String[] lines = source.split("\n", -1);
        Matcher m = Pattern.compile("^" + Pattern.quote(programName) + "\\((\\d+)\\): (error|warning)", Pattern.MULTILINE)
                .matcher(log);
        StringBuilder quoted = new StringBuilder();
        java.util.Set<Integer> seen = new java.util.TreeSet<>();
        while (m.find()) seen.add(Integer.parseInt(m.group(1)));
        for (int n : seen) {
            if (n >= 1 && n <= lines.length) quoted.append(String.format("%5d | %s%n", n, lines[n - 1]));
        }
        if (!quoted.isEmpty()) sb.append("in ").append(programName).append(":\n").append(quoted);
        return sb.toString();
    }
}
