package hyperlab.data;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import java.util.SplittableRandom;

/**
 * Random windows of a split: inputs (B, T) and targets (B, T) shifted one token ahead. Batch k
 * depends only on (seed, k), so the sampler's whole state is {@link #position()}: a checkpoint
 * stores one number and a resumed run draws exactly the batches the uninterrupted one would.
 */
public final class BatchSampler {
    private final Split split;
    private final int batch;
    private final int context;
    private final long seed;
    private long position;

    public BatchSampler(Split split, int batch, int context, long seed) {
        if (batch < 1 || context < 1)
            throw new IllegalArgumentException("batch = " + batch + ", context = " + context + ": both must be positive");
        if (split.length() < context + 1L)
            throw new IllegalArgumentException("the split has " + split.length() + " tokens but a window needs context + 1 = "
                    + (context + 1) + ": use a longer text or a smaller context");
        this.split = split;
        this.batch = batch;
        this.context = context;
        this.seed = seed;
    }

    /** One batch, row-major: inputs[b * T + t] and targets[b * T + t] = the token after inputs[b * T + t]. */
    public record Batch(int[] inputs, int[] targets, int batch, int context) {
        /** Inputs and targets as INT64 (B, T) arrays in the given manager. */
        public NDList toNd(NDManager m) {
            return new NDList(nd(m, inputs), nd(m, targets));
        }

        private NDArray nd(NDManager m, int[] a) {
            long[] l = new long[a.length];
            for (int i = 0; i < a.length; i++) l[i] = a[i];
            return m.create(l).reshape(batch, context);
        }
    }

    /** The next batch; advances {@link #position()} by one. */
    public Batch next() {
        SplittableRandom r = new SplittableRandom(batchSeed(seed, position));
        position++;
        int[] in = new int[batch * context], out = new int[batch * context];
        long span = split.length() - context;          // valid window starts: [from, from + span)
        for (int b = 0; b < batch; b++) {
            long start = split.from() + r.nextLong(span);
            for (int t = 0; t < context; t++) {
                in[b * context + t] = split.tokens().get(start + t);
                out[b * context + t] = split.tokens().get(start + t + 1);
            }
        }
        return new Batch(in, out, batch, context);
    }

    /**
     * A hash of (seed, k) as batch k's generator seed. Not seed + k·γ: SplittableRandom steps its state by that same
     * γ (0x9E3779B97F4A7C15), so batch k + 1 would replay batch k's draws shifted by one and share batch − 1 of its
     * windows, and training would see each window batch times in a row.
     */
    static long batchSeed(long seed, long k) {
        long z = seed * 0xBF58476D1CE4E5B9L + (k + 1) * 0x94D049BB133111EBL;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** How many batches have been drawn. */
    public long position() { return position; }

    /** Continues from a stored position (a checkpoint's). */
    public void seek(long position) {
        if (position < 0) throw new IllegalArgumentException("position = " + position + " must be ≥ 0");
        this.position = position;
    }
}
