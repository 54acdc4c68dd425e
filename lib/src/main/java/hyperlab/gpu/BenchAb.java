package hyperlab.gpu;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Two builds of the engine compared in one device command: the {@link GpuBench} documents of runs that alternated a
 * base build and the new one (base, new, base, new, ...) merged into one report with each row's times per round, their
 * means and new / base, and for --profile runs each phase's and each GEMM shape's mean time on both builds. Alternating in one command is what makes a 1 % change visible on a GPU whose speed drifts by
 * more than that between commands; {@code device-test.sh --bundle DIR --ab} runs it.
 * <pre>java hyperlab.gpu.BenchAb --base-commit REV --base b1.json b2.json ... --new n1.json n2.json ...</pre>
 */
public final class BenchAb {
    private BenchAb() {
    }

    public static void main(String[] args) throws IOException {
        String commit = "unknown";
        List<JsonObject> base = new ArrayList<>(), fresh = new ArrayList<>();
        List<JsonObject> into = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--base-commit" -> commit = args[++i];
                case "--base" -> into = base;
                case "--new" -> into = fresh;
                default -> {
                    if (into == null) throw new IllegalArgumentException("unexpected " + args[i]
                            + "; usage: BenchAb --base-commit REV --base b1.json ... --new n1.json ...");
                    into.add(JsonParser.parseString(Files.readString(Path.of(args[i]))).getAsJsonObject());
                }
            }
        }
        System.out.println(new GsonBuilder().setPrettyPrinting().create().toJson(merge(commit, base, fresh)));
    }

    /** The report: one row per (paradigm, precision, recompute) of the runs, in the order of the first base run. */
    static JsonObject merge(String baseCommit, List<JsonObject> base, List<JsonObject> fresh) {
        if (base.isEmpty() || base.size() != fresh.size())
            throw new IllegalArgumentException("need as many new runs as base runs, at least one: " + base.size() + " base, "
                    + fresh.size() + " new");
        Map<String, Row> rows = new LinkedHashMap<>();
        collect(base, rows, true);
        collect(fresh, rows, false);
        JsonObject out = new JsonObject();
        out.addProperty("device", base.getFirst().get("device").getAsString());
        out.addProperty("base_commit", baseCommit);
        out.addProperty("rounds", base.size());
        for (String k : List.of("preset", "batch", "time", "timed_steps")) out.add(k, base.getFirst().get(k));
        JsonArray arr = new JsonArray();
        for (Row r : rows.values()) arr.add(r.json());
        out.add("rows", arr);
        return out;
    }

    private static void collect(List<JsonObject> runs, Map<String, Row> rows, boolean isBase) {
        for (JsonObject run : runs)
            for (JsonElement e : run.getAsJsonArray("paradigms")) {
                JsonObject o = e.getAsJsonObject();
                if (!o.has("ms_per_step")) continue;                 // a row that failed on either build is left out
                String key = o.get("paradigm").getAsString() + "/" + o.get("precision").getAsString() + "/" + o.get("recompute").getAsString();
                Row row = rows.computeIfAbsent(key, k -> new Row(o.get("paradigm").getAsString(), o.get("precision").getAsString(),
                        o.get("recompute").getAsString()));
                (isBase ? row.baseMs : row.newMs).add(o.get("ms_per_step").getAsDouble());
                if (o.has("phases_ms"))
                    o.getAsJsonObject("phases_ms").entrySet().forEach(p ->
                            (isBase ? row.basePhases : row.newPhases).computeIfAbsent(p.getKey(), k -> new ArrayList<>()).add(p.getValue().getAsDouble()));
                if (o.has("gemms"))                                  // --profile's GEMM shapes: {shape: {"ms", ...}}
                    o.getAsJsonObject("gemms").entrySet().forEach(g -> (isBase ? row.baseGemms : row.newGemms)
                            .computeIfAbsent(g.getKey(), k -> new ArrayList<>()).add(g.getValue().getAsJsonObject().get("ms").getAsDouble()));
            }
    }

    /** One configuration's times on both builds, per round: the step's, and with --profile its phases' and GEMM shapes'. */
    private record Row(String paradigm, String precision, String recompute, List<Double> baseMs, List<Double> newMs,
                       Map<String, List<Double>> basePhases, Map<String, List<Double>> newPhases,
                       Map<String, List<Double>> baseGemms, Map<String, List<Double>> newGemms) {
        Row(String paradigm, String precision, String recompute) {
            this(paradigm, precision, recompute, new ArrayList<>(), new ArrayList<>(), new LinkedHashMap<>(), new LinkedHashMap<>(),
                    new LinkedHashMap<>(), new LinkedHashMap<>());
        }

        JsonObject json() {
            JsonObject o = new JsonObject();
            o.addProperty("paradigm", paradigm);
            o.addProperty("precision", precision);
            o.addProperty("recompute", recompute);
            o.add("base_ms", array(baseMs));
            o.add("new_ms", array(newMs));
            if (!baseMs.isEmpty() && !newMs.isEmpty()) {
                o.addProperty("base_mean_ms", mean(baseMs));
                o.addProperty("new_mean_ms", mean(newMs));
                o.addProperty("new_over_base", mean(newMs) / mean(baseMs));
            }
            if (!basePhases.isEmpty() && !newPhases.isEmpty()) o.add("phases_ms", means(basePhases, newPhases));
            if (!baseGemms.isEmpty() && !newGemms.isEmpty()) o.add("gemms_ms", means(baseGemms, newGemms));
            return o;
        }

        /** {name: {"base_mean_ms", "new_mean_ms"}} for the names both builds report, in the base's order. */
        private static JsonObject means(Map<String, List<Double>> base, Map<String, List<Double>> fresh) {
            JsonObject out = new JsonObject();
            for (String name : base.keySet())
                if (fresh.containsKey(name)) {
                    JsonObject p = new JsonObject();
                    p.addProperty("base_mean_ms", mean(base.get(name)));
                    p.addProperty("new_mean_ms", mean(fresh.get(name)));
                    out.add(name, p);
                }
            return out;
        }

        private static JsonArray array(List<Double> xs) {
            JsonArray a = new JsonArray();
            xs.forEach(a::add);
            return a;
        }

        private static double mean(List<Double> xs) {
            return xs.stream().mapToDouble(Double::doubleValue).average().orElseThrow();
        }
    }
}
