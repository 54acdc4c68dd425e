package hyperlab.gpu;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Nsight Compute's per-kernel summaries of one command run on several builds or blockings, merged into one report: each
 * kernel's mean time a launch in every run and its ratio to the first run's. A kernel's time alone moves by less than a
 * step's noise, so this is how a kernel change is judged before an A/B; {@code device-test.sh --bundle DIR
 * --kernel-times} runs the command under {@code ncu --print-summary per-kernel} and this on its outputs.
 * <pre>java hyperlab.gpu.KernelTimes [--device NAME] [--base-commit REV] [--commit REV] [--command TEXT]
 *     --run LABEL ncu.txt [--run LABEL ncu.txt ...]</pre>
 */
public final class KernelTimes {
    private KernelTimes() {
    }

    /** One kernel of a summary: its name, launch shape and launches, and its mean gpu__time_duration.sum in µs. */
    record Kernel(String name, String grid, String block, int launches, double meanUs) {
        /** The report's key: name, grid and block, e.g. "sm_project g128x1 b512x1" (a name may launch in several shapes). */
        String key() {
            return name + " g" + grid + " b" + block;
        }
    }

    // "  sm_project (128, 1, 1)x(512, 1, 1), Device 0, CC 9.0, Invocations 96" (ncu 2024-2025; "Context 1, Stream 7" may follow the shape)
    private static final Pattern HEAD = Pattern.compile("^\\s{2}(\\S+) \\((\\d+), (\\d+), (\\d+)\\)x\\((\\d+), (\\d+), (\\d+)\\),.*Invocations (\\d+)\\s*$");
    // "    gpu__time_duration.sum          us   81.31   85.54   82.73": minimum, maximum, average
    private static final Pattern TIME = Pattern.compile("^\\s+gpu__time_duration\\.sum\\s+(\\S+)\\s+([\\d.,]+)\\s+([\\d.,]+)\\s+([\\d.,]+)\\s*$");

    /** The kernels of one {@code ncu --metrics gpu__time_duration.sum --print-summary per-kernel} output, in its order. */
    static Map<String, Kernel> parse(List<String> lines) {
        Map<String, Kernel> out = new LinkedHashMap<>();
        Matcher head = null;
        for (String line : lines) {
            Matcher h = HEAD.matcher(line);
            if (h.matches()) {
                head = h;
                continue;
            }
            Matcher t = TIME.matcher(line);
            if (t.matches() && head != null) {
                double us = Double.parseDouble(t.group(4).replace(",", "")) * microseconds(t.group(1));
                String grid = head.group(2) + "x" + head.group(3) + (head.group(4).equals("1") ? "" : "x" + head.group(4));
                String block = head.group(5) + "x" + head.group(6) + (head.group(7).equals("1") ? "" : "x" + head.group(7));
                Kernel k = new Kernel(head.group(1), grid, block, Integer.parseInt(head.group(8)), us);
                out.put(k.key(), k);
                head = null;
            }
        }
        if (out.isEmpty())
            throw new IllegalArgumentException("no per-kernel summary with gpu__time_duration.sum in the ncu output: check that ncu ran "
                    + "with --metrics gpu__time_duration.sum --print-summary per-kernel and that its -k filter matched a kernel");
        return out;
    }

    private static double microseconds(String unit) {
        return switch (unit) {
            case "ns", "nsecond" -> 1e-3;
            case "us", "usecond" -> 1;
            case "ms", "msecond" -> 1e3;
            case "s", "second" -> 1e6;
            default -> throw new IllegalArgumentException("unknown time unit '" + unit + "' in the ncu summary");
        };
    }

    /**
     * The report: {@code first} (the reference run's label), {@code runs} (label to kernel key to mean µs a launch),
     * {@code launches} (the first run's launches per kernel) and {@code over_first} (each later run's time over the first
     * run's, for the kernels both ran).
     */
    static JsonObject report(Map<String, String> about, Map<String, Map<String, Kernel>> runs) {
        if (runs.isEmpty()) throw new IllegalArgumentException("no runs: pass --run LABEL ncu.txt at least once");
        JsonObject out = new JsonObject();
        about.forEach(out::addProperty);
        out.addProperty("first", runs.keySet().iterator().next());
        JsonObject times = new JsonObject(), launches = new JsonObject(), ratios = new JsonObject();
        Map<String, Kernel> first = runs.values().iterator().next();
        first.forEach((key, k) -> launches.addProperty(key, k.launches()));
        runs.forEach((label, kernels) -> {
            JsonObject t = new JsonObject(), r = new JsonObject();
            kernels.forEach((key, k) -> {
                t.addProperty(key, Math.round(k.meanUs() * 100) / 100.0);
                Kernel f = first.get(key);
                if (f != null) r.addProperty(key, Math.round(k.meanUs() / f.meanUs() * 10000) / 10000.0);
            });
            times.add(label, t);
            if (kernels != first) ratios.add(label, r);
        });
        out.add("runs", times);
        out.add("launches", launches);
        out.add("over_first", ratios);
        return out;
    }

    /** Prints the report; a run whose output holds no summary (ncu or the command failed) is listed under "failed". */
    public static void main(String[] args) throws IOException {
        Map<String, String> about = new LinkedHashMap<>();
        Map<String, Map<String, Kernel>> runs = new LinkedHashMap<>();
        JsonObject failed = new JsonObject();
        String usage = "usage: KernelTimes [--device NAME] [--base-commit REV] [--commit REV] [--command TEXT] --run LABEL ncu.txt ...";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--device", "--base-commit", "--commit", "--command" -> {
                    if (i + 1 >= args.length) throw new IllegalArgumentException(args[i] + " needs a value; " + usage);
                    about.put(args[i].substring(2).replace('-', '_'), args[++i]);
                }
                case "--run" -> {
                    if (i + 2 >= args.length) throw new IllegalArgumentException("--run needs a label and a file; " + usage);
                    String label = args[++i];
                    Path file = Path.of(args[++i]);
                    try {
                        runs.put(label, parse(Files.readAllLines(file)));
                    } catch (IllegalArgumentException e) {
                        failed.addProperty(label, e.getMessage());
                        System.err.println("KernelTimes: run '" + label + "' (" + file + "): " + e.getMessage());
                    }
                }
                default -> throw new IllegalArgumentException("unexpected " + args[i] + "; " + usage);
            }
        }
        if (runs.isEmpty()) throw new IllegalArgumentException("no run has a per-kernel summary: " + failed);
        JsonObject out = report(about, runs);
        if (!failed.isEmpty()) out.add("failed", failed);
        System.out.println(new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(out));
    }
}
