package hyperlab.train;

import hyperlab.data.Tokenizer;
import hyperlab.nn.GptConfig;
import hyperlab.nn.MapInit;
import hyperlab.nn.Paradigm;
import java.io.IOException;
import java.io.Reader;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * Everything a training run needs, as key=value pairs (a properties file and/or overrides) so the
 * CLI and notebooks share one vocabulary. Model keys (layers, width, heads, context, 0 = the
 * preset's) override the preset; the vocabulary follows the tokenizer (a preset's padded
 * vocabulary such as M's 50304 is kept when it is large enough). The warm-up is capped at
 * steps/10 so short runs still spend most of their steps at the peak and in the cosine decay.
 */
public record TrainConfig(
        String preset, int layers, int width, int heads, int context, Paradigm paradigm, int streams,
        int batch, int steps, double lr, double minLr, int warmup, double weightDecay, double beta1, double beta2,
        double gradClip, int evalEvery, int evalBatches, int logEvery, int checkpointEvery, long seed,
        String data, String tokenizer, String engine, Path out, boolean resume, int maxBadSteps,
        boolean dynamic, int sinkhornIters, boolean sinkhornLog, MapInit init, String recompute, String precision,
        String streamPrecision) {

    /** The valid keys with their defaults and what each accepts, in the order they print. */
    static final Map<String, String[]> KEYS = keys(
            "preset", "tiny", "tiny, M or L",
            "layers", "0", "a positive integer, or 0 for the preset's",
            "width", "0", "a positive integer, or 0 for the preset's",
            "heads", "0", "a positive integer dividing width, or 0 for the preset's",
            "context", "0", "a positive integer, or 0 for the preset's",
            "paradigm", "rc", "rc, hc, mhc, mhc-lite or shc",
            "streams", "0", "a positive integer (1 for rc), or 0 for 4 with hyper-connections",
            "batch", "8", "a positive integer",
            "steps", "200", "a positive integer",
            "lr", "6e-4", "a positive number",
            "min_lr", "6e-5", "a number in [0, lr]",
            "warmup", "200", "an integer ≥ 0 (capped at steps/10)",
            "weight_decay", "0.1", "a number ≥ 0",
            "beta1", "0.9", "a number in [0, 1)",
            "beta2", "0.95", "a number in [0, 1)",
            "grad_clip", "1.0", "a number ≥ 0 (0 turns clipping off)",
            "eval_every", "50", "an integer ≥ 0 (0: evaluate only after the last step)",
            "eval_batches", "4", "a positive integer",
            "log_every", "10", "a positive integer",
            "checkpoint_every", "100", "an integer ≥ 0 (0: checkpoint only after the last step)",
            "seed", "1337", "an integer",
            "data", "default", "default (the KJV fetched by setup), a UTF-8 text file, or a nanoGPT .bin token file",
            "tokenizer", "bytes", "bytes or gpt2",
            "engine", "cpu", "cpu (DJL), gpu (the CUDA engine) or emulator (the CUDA engine's kernels on the CPU: slow, for checks)",
            "out", "runs/train", "a folder for metrics.jsonl and checkpoints/",
            "resume", "false", "true or false",
            "max_bad_steps", "5", "a positive integer: NaN/Inf steps in a row before the run stops",
            "dynamic", "true", "true or false: hc only; false keeps just the static (bias) maps",
            "sinkhorn_iters", "20", "a positive integer: mhc's Sinkhorn-Knopp iterations",
            "sinkhorn_log", "false", "true or false: mhc's Sinkhorn-Knopp in the log domain",
            "init", "paper", "paper (sHC App. G) or rc_exact (step 0 computes exactly what rc does)",
            "recompute", "off", "off, auto, or g ≥ 1: engine=gpu keeps the streams entering every g-th block only and"
                    + " rebuilds the rest in the backward (less memory, same gradients); auto picks the g that needs least",
            "precision", "auto", "auto (bf16 on engine=gpu, else fp32), fp32, or bf16: bf16 GEMM and attention operands"
                    + " with fp32 accumulation, fp32 master weights, optimiser and streams (engine=gpu or emulator)",
            "stream_precision", "fp32", "fp32 or bf16: how hc/mhc/mhc-lite/shc store their n streams and the streams'"
                    + " gradients with precision=bf16 (bf16 halves the bytes of every pass over them; every sum stays fp32; rc keeps fp32)");

    public TrainConfig {
        if (!List.of("cpu", "gpu", "emulator").contains(engine))
            throw new IllegalArgumentException("engine = '" + engine + "': use cpu, gpu or emulator");
        if (minLr > lr) throw bad("min_lr", minLr, "a number in [0, lr = " + lr + "]");
        if (!recompute.equals("off") && !recompute.equals("auto") && !recompute.matches("[1-9][0-9]*"))
            throw bad("recompute", recompute, KEYS.get("recompute")[1]);
        if (engine.equals("cpu") && !recompute.equals("off"))
            throw bad("recompute", recompute, "off with engine=cpu (DJL keeps its own autograd graph); recompute is an option of engine=gpu or emulator");
        if (!List.of("auto", "fp32", "bf16").contains(precision)) throw bad("precision", precision, KEYS.get("precision")[1]);
        if (engine.equals("cpu") && precision.equals("bf16"))
            throw bad("precision", precision, "auto or fp32 with engine=cpu (the DJL engine trains in fp32); bf16 is an option of engine=gpu or emulator");
        if (!List.of("fp32", "bf16").contains(streamPrecision)) throw bad("stream_precision", streamPrecision, KEYS.get("stream_precision")[1]);
        if (streamPrecision.equals("bf16") && !effective(precision, engine).equals("bf16"))
            throw bad("stream_precision", streamPrecision, "fp32 unless precision is bf16 (engine=gpu, or emulator with precision=bf16):"
                    + " bf16 streams are part of mixed precision");
    }

    /** fp32 or bf16: what {@code precision} means for this engine (auto: bf16 on a real GPU, where tensor cores pay off). */
    public String effectivePrecision() {
        return effective(precision, engine);
    }

    private static String effective(String precision, String engine) {
        return precision.equals("auto") ? (engine.equals("gpu") ? "bf16" : "fp32") : precision;
    }


    /** One line per key: name, default, and what it accepts (the CLI's --keys). */
    public static String describeKeys() {
        StringBuilder sb = new StringBuilder();
        KEYS.forEach((k, d) -> sb.append(String.format(Locale.ROOT, "  %-16s %-12s %s%n", k, d[0], d[1])));
        return sb.toString();
    }

    /** The defaults. */
    public static TrainConfig defaults() {
        return parse(Map.of());
    }

    /** Defaults overridden by "key=value" strings, e.g. {@code TrainConfig.of("paradigm=mhc", "steps=300")}. */
    public static TrainConfig of(String... overrides) {
        return defaults().with(List.of(overrides));
    }

    /** A properties file (key=value lines, # comments) over the defaults. */
    public static TrainConfig fromFile(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read config file " + file + ": " + e, e);
        }
        Map<String, String> m = new LinkedHashMap<>();
        p.stringPropertyNames().forEach(k -> m.put(k, p.getProperty(k).trim()));
        try {
            return parse(m);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e, e);
        }
    }

    /** This config with "key=value" overrides applied in order. */
    public TrainConfig with(List<String> overrides) {
        Map<String, String> m = toMap();
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("'" + o + "' is not key=value (e.g. steps=300); valid keys: " + String.join(", ", KEYS.keySet()));
            m.put(o.substring(0, eq).trim(), o.substring(eq + 1).trim());
        }
        return parse(m);
    }

    public TrainConfig with(String key, Object value) {
        return with(List.of(key + "=" + value));
    }

    public TrainConfig steps(int s) { return with("steps", s); }

    public TrainConfig paradigm(String p) { return with("paradigm", p); }

    public TrainConfig out(Path p) { return with("out", p); }

    /** Builds from a key → value map over the defaults; unknown keys and bad values are refused by name. */
    public static TrainConfig parse(Map<String, String> given) {
        for (String k : given.keySet())
            if (!KEYS.containsKey(k))
                throw new IllegalArgumentException("unknown key '" + k + "': valid keys are " + String.join(", ", KEYS.keySet()));
        Map<String, String> v = new LinkedHashMap<>();
        KEYS.forEach((k, d) -> v.put(k, given.getOrDefault(k, d[0])));
        String preset = v.get("preset");
        try {
            GptConfig.preset(preset);
        } catch (IllegalArgumentException e) {
            throw bad("preset", preset, KEYS.get("preset")[1]);
        }
        Paradigm paradigm;
        try {
            paradigm = Paradigm.parse(v.get("paradigm"));
        } catch (IllegalArgumentException e) {
            throw bad("paradigm", v.get("paradigm"), KEYS.get("paradigm")[1]);
        }
        String tok = v.get("tokenizer").toLowerCase(Locale.ROOT);
        if (!tok.equals("bytes") && !tok.equals("gpt2")) throw bad("tokenizer", tok, KEYS.get("tokenizer")[1]);
        String engine = v.get("engine").toLowerCase(Locale.ROOT);
        if (!List.of("cpu", "gpu", "emulator").contains(engine)) throw bad("engine", engine, "cpu, gpu or emulator");
        String resume = v.get("resume").toLowerCase(Locale.ROOT);
        if (!resume.equals("true") && !resume.equals("false")) throw bad("resume", resume, KEYS.get("resume")[1]);
        if (v.get("data").isEmpty()) throw bad("data", "", KEYS.get("data")[1]);
        if (v.get("out").isEmpty()) throw bad("out", "", KEYS.get("out")[1]);
        double lr = dbl(v, "lr", 1e-300, Double.MAX_VALUE);
        TrainConfig c = new TrainConfig(preset, integer(v, "layers", 0), integer(v, "width", 0), integer(v, "heads", 0),
                integer(v, "context", 0), paradigm, integer(v, "streams", 0), integer(v, "batch", 1), integer(v, "steps", 1),
                lr, dbl(v, "min_lr", 0, Double.MAX_VALUE), integer(v, "warmup", 0), dbl(v, "weight_decay", 0, Double.MAX_VALUE),
                dbl(v, "beta1", 0, Math.nextDown(1.0)), dbl(v, "beta2", 0, Math.nextDown(1.0)), dbl(v, "grad_clip", 0, Double.MAX_VALUE),
                integer(v, "eval_every", 0), integer(v, "eval_batches", 1), integer(v, "log_every", 1),
                integer(v, "checkpoint_every", 0), longValue(v, "seed"), v.get("data"), tok, engine, Path.of(v.get("out")),
                Boolean.parseBoolean(resume), integer(v, "max_bad_steps", 1),
                bool(v, "dynamic"), integer(v, "sinkhorn_iters", 1), bool(v, "sinkhorn_log"), mapInit(v),
                v.get("recompute").toLowerCase(Locale.ROOT), v.get("precision").toLowerCase(Locale.ROOT),
                v.get("stream_precision").toLowerCase(Locale.ROOT));
        c.model();   // validates the model keys against the preset now (e.g. heads dividing width)
        return c;
    }

    /** The model: the preset with this config's overrides, paradigm, streams, seed and the tokenizer's vocabulary. */
    public GptConfig model() {
        GptConfig g = GptConfig.preset(preset);
        if (layers > 0) g = g.layers(layers);
        if (width > 0) g = g.width(width);
        if (heads > 0) g = g.heads(heads);
        if (context > 0) g = g.context(context);
        int vocab = Tokenizer.of(tokenizer).vocab();
        if (g.vocab() < vocab) g = g.vocab(vocab);
        g = g.paradigm(paradigm);
        if (streams > 0) g = g.streams(streams);
        return g.dynamic(dynamic).sinkhorn(sinkhornIters, sinkhornLog).init(init).seed(seed);
    }

    /** Warm-up steps actually used: min(warmup, steps / 10). */
    public int effectiveWarmup() {
        return Math.min(warmup, steps / 10);
    }

    /** The config as its key → value pairs (what the CLI prints and a checkpoint records). */
    public Map<String, String> toMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("preset", preset);
        m.put("layers", "" + layers);
        m.put("width", "" + width);
        m.put("heads", "" + heads);
        m.put("context", "" + context);
        m.put("paradigm", paradigm.key());
        m.put("streams", "" + streams);
        m.put("batch", "" + batch);
        m.put("steps", "" + steps);
        m.put("lr", "" + lr);
        m.put("min_lr", "" + minLr);
        m.put("warmup", "" + warmup);
        m.put("weight_decay", "" + weightDecay);
        m.put("beta1", "" + beta1);
        m.put("beta2", "" + beta2);
        m.put("grad_clip", "" + gradClip);
        m.put("eval_every", "" + evalEvery);
        m.put("eval_batches", "" + evalBatches);
        m.put("log_every", "" + logEvery);
        m.put("checkpoint_every", "" + checkpointEvery);
        m.put("seed", "" + seed);
        m.put("data", data);
        m.put("tokenizer", tokenizer);
        m.put("engine", engine);
        m.put("out", out.toString());
        m.put("resume", "" + resume);
        m.put("max_bad_steps", "" + maxBadSteps);
        m.put("dynamic", "" + dynamic);
        m.put("sinkhorn_iters", "" + sinkhornIters);
        m.put("sinkhorn_log", "" + sinkhornLog);
        m.put("init", init.name().toLowerCase(Locale.ROOT));
        m.put("recompute", recompute);
        m.put("precision", precision);
        m.put("stream_precision", streamPrecision);
        return m;
    }

    private static int integer(Map<String, String> v, String key, int min) {
        String s = v.get(key);
        try {
            int x = Integer.parseInt(s);
            if (x >= min) return x;
        } catch (NumberFormatException ignored) {
            // reported below with the allowed values
        }
        throw bad(key, s, KEYS.get(key)[1]);
    }

    private static boolean bool(Map<String, String> v, String key) {
        String s = v.get(key).toLowerCase(Locale.ROOT);
        if (!s.equals("true") && !s.equals("false")) throw bad(key, v.get(key), KEYS.get(key)[1]);
        return Boolean.parseBoolean(s);
    }

    /** paper or rc_exact (case-insensitive, '-' accepted for '_'), the names of {@link MapInit}. */
    private static MapInit mapInit(Map<String, String> v) {
        String s = v.get("init").trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (MapInit i : MapInit.values()) if (i.name().equals(s)) return i;
        throw bad("init", v.get("init"), KEYS.get("init")[1]);
    }

    private static long longValue(Map<String, String> v, String key) {
        try {
            return Long.parseLong(v.get(key));
        } catch (NumberFormatException e) {
            throw bad(key, v.get(key), KEYS.get(key)[1]);
        }
    }

    private static double dbl(Map<String, String> v, String key, double min, double max) {
        String s = v.get(key);
        try {
            double x = Double.parseDouble(s);
            if (x >= min && x <= max) return x;
        } catch (NumberFormatException ignored) {
            // reported below with the allowed values
        }
        throw bad(key, s, KEYS.get(key)[1]);
    }

    private static IllegalArgumentException bad(String key, Object value, String allowed) {
        return new IllegalArgumentException(key + " = '" + value + "' is not allowed: use " + allowed);
    }

    private static Map<String, String[]> keys(String... triples) {
        Map<String, String[]> m = new LinkedHashMap<>();
        for (int i = 0; i < triples.length; i += 3) m.put(triples[i], new String[] {triples[i + 1], triples[i + 2]});
        return m;
    }
}
