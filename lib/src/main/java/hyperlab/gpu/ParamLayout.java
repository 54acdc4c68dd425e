package hyperlab.gpu;

import hyperlab.nn.GptConfig;
import hyperlab.nn.MapSpec;
import hyperlab.nn.Paradigm;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The GPT's parameters with the CPU model's names, shapes and order (so checkpoints and golden files move between
 * engines), placed in one contiguous buffer: decayed tensors first, so AdamW runs as two launches, and gradients
 * sit in one buffer ready for an all-reduce. Every tensor starts on a 256-byte boundary (the zero padding between
 * them is never read as a parameter): cuBLASLt and vector loads get aligned weights and biases.
 */
public final class ParamLayout {
    /** Elements between tensor starts are a multiple of this: 64 floats = 256 bytes. */
    static final int ALIGN = 64;

    /** One tensor: {@code offset} is its first element in the buffer. */
    public record Entry(String name, long[] shape, boolean decay, long offset, long size, Init init) {
        @Override
        public String toString() {
            return name + Arrays.toString(shape);
        }
    }

    /** How a tensor starts: N(0, std²) when {@code values} is null, else those values (maps, norms, biases). */
    public record Init(double std, double[] values) {
        static Init normal(double std) { return new Init(std, null); }

        static Init constant(long size, double v) {
            double[] x = new double[Math.toIntExact(size)];
            Arrays.fill(x, v);
            return new Init(0, x);
        }
    }

    private final List<Entry> entries;
    private final Map<String, Entry> byName = new LinkedHashMap<>();
    private final long total, decayed, count;

    private ParamLayout(List<Entry> ordered) {
        long off = 0, decayedEnd = 0;
        List<Entry> placed = new ArrayList<>();
        for (boolean pass : new boolean[] {true, false}) {
            for (Entry e : ordered)
                if (e.decay() == pass) {
                    Entry p = new Entry(e.name(), e.shape(), e.decay(), off, e.size(), e.init());
                    byName.put(p.name(), p);
                    off = aligned(off + p.size());
                }
            if (pass) decayedEnd = off;        // the decayed pass ends (padded) where the rest begins
        }
        decayed = decayedEnd;
        total = off;
        count = ordered.stream().mapToLong(Entry::size).sum();
        for (Entry e : ordered) placed.add(byName.get(e.name()));
        entries = Collections.unmodifiableList(placed);
    }

    /** The layout of {@code cfg}'s model, named exactly as DJL names the CPU model's parameters. */
    public static ParamLayout of(GptConfig cfg) {
        int c = cfg.width(), n = cfg.streams(), layers = cfg.layers();
        double projStd = 0.02 / Math.sqrt(2.0 * layers);
        List<Entry> out = new ArrayList<>();
        out.add(entry("wte", Init.normal(0.02), true, cfg.vocab(), c));
        out.add(entry("wpe", Init.normal(0.02), true, cfg.context(), c));
        for (int l = 0; l < layers; l++) {
            for (int kind = 0; kind < 2; kind++) {
                int block = 2 * l + kind;
                String prefix = String.format("%02dh%d_%s_", block + 1, l, kind == 0 ? "attn" : "mlp");
                for (MapSpec.Param p : MapSpec.of(cfg.paradigm(), n, c, cfg.dynamic(), cfg.init(), block))
                    out.add(new Entry(prefix + p.name(), p.shape(), p.decay(), 0, p.size(), new Init(0, p.init())));
                String sub = prefix + "01sublayer_";
                out.add(entry(sub + "01ln_gamma", Init.constant(c, 1), false, c));
                out.add(entry(sub + "01ln_beta", Init.constant(c, 0), false, c));
                int hidden = kind == 0 ? 3 * c : 4 * c;
                String fc = kind == 0 ? "02c_attn" : "02c_fc";
                out.add(entry(sub + fc + "_weight", Init.normal(0.02), true, hidden, c));
                out.add(entry(sub + fc + "_bias", Init.constant(hidden, 0), false, hidden));
                long projIn = kind == 0 ? c : 4L * c;
                out.add(entry(sub + "03c_proj_weight", Init.normal(projStd), true, c, projIn));
                out.add(entry(sub + "03c_proj_bias", Init.constant(c, 0), false, c));
            }
        }
        String lnf = String.format("%02dln_f_", 2 * layers + 1);
        out.add(entry(lnf + "gamma", Init.constant(c, 1), false, c));
        out.add(entry(lnf + "beta", Init.constant(c, 0), false, c));
        return new ParamLayout(out);
    }

    private static Entry entry(String name, Init init, boolean decay, long... shape) {
        return new Entry(name, shape, decay, 0, Arrays.stream(shape).reduce(1, Math::multiplyExact), init);
    }

    /** In the CPU model's order. */
    public List<Entry> entries() { return entries; }

    public Entry get(String name) {
        Entry e = byName.get(name);
        if (e == null) throw new IllegalArgumentException("no parameter named " + name + " in this model");
        return e;
    }

    private static long aligned(long offset) {
        return (offset + ALIGN - 1) / ALIGN * ALIGN;
    }

    /** Elements in the whole buffer, padding included. */
    public long total() { return total; }

    /** Where the tensors that are not decayed start: the decayed ones (and their padding) come first. */
    public long decayed() { return decayed; }

    /** Parameters in the model (no padding): what a parameter count reports. */
    public long count() { return count; }

    /** Fresh weights in buffer order: N(0, std²) from {@code seed} for weights, the given values otherwise. */
    public float[] initialValues(long seed) {
        float[] all = new float[Math.toIntExact(total)];
        Random r = new Random(seed);
        for (Entry e : entries) {
            int off = Math.toIntExact(e.offset());
            if (e.init().values() != null) for (int i = 0; i < e.size(); i++) all[off + i] = (float) e.init().values()[i];
            else for (int i = 0; i < e.size(); i++) all[off + i] = (float) (r.nextGaussian() * e.init().std());
        }
        return all;
    }

    /** Map parameters of block {@code index} (attention of layer l is 2l, its MLP 2l+1) by paper name. */
    public Map<String, Entry> mapParams(GptConfig cfg, int index) {
        Map<String, Entry> m = new LinkedHashMap<>();
        if (cfg.paradigm() == Paradigm.RC) return m;
        String prefix = String.format("%02dh%d_%s_", index + 1, index / 2, index % 2 == 0 ? "attn" : "mlp");
        for (MapSpec.Param p : MapSpec.of(cfg.paradigm(), cfg.streams(), cfg.width(), cfg.dynamic(), cfg.init(), index))
            m.put(p.name(), get(prefix + p.name()));
        return m;
    }

    /** The sublayer tensor {@code suffix} (e.g. "01ln_gamma", "02c_fc_weight") of block {@code index}. */
    public Entry sublayer(int index, String suffix) {
        return get(String.format("%02dh%d_%s_01sublayer_%s", index + 1, index / 2, index % 2 == 0 ? "attn" : "mlp", suffix));
    }

    /** ln_f's gamma or beta. */
    public Entry finalNorm(String which, int layers) {
        return get(String.format("%02dln_f_%s", 2 * layers + 1, which));
    }
}
