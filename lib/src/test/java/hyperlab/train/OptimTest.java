package hyperlab.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** AdamW, the schedule, clipping and the loss against float64 formulas written out here. */
class OptimTest {
    static double[] random(Random r, int n) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) a[i] = r.nextGaussian();
        return a;
    }

    static NDArray f32(NDManager m, double[] a, long... shape) {
        return m.create(a).toType(DataType.FLOAT32, false).reshape(shape);
    }

    static double[] f64(NDArray a) {
        return a.toType(DataType.FLOAT64, false).toDoubleArray();
    }

    @Test
    void adamWTwoStepsMatchTheFloat64Update() {
        Random r = new Random(3);
        double lr = 0.05, wd = 0.1, b1 = 0.9, b2 = 0.95, eps = 1e-8;
        for (boolean decay : new boolean[] {true, false})
            try (NDManager m = NDManager.newBaseManager()) {
                double[] p = random(r, 6), g1 = random(r, 6), g2 = random(r, 6);
                NDArray param = f32(m, p, 2, 3);
                double[] want = f64(param);          // start from the float32-rounded values
                AdamW opt = new AdamW(List.of(new AdamW.Slot("w", param, decay)), m, b1, b2, eps, wd);
                double[] mom = new double[6], vel = new double[6];
                int t = 0;
                for (double[] g : List.of(g1, g2)) {
                    opt.step(List.of(f32(m, g, 2, 3)), lr);
                    t++;
                    for (int i = 0; i < 6; i++) {
                        double gi = (float) g[i];
                        if (decay) want[i] *= 1 - lr * wd;
                        mom[i] = b1 * mom[i] + (1 - b1) * gi;
                        vel[i] = b2 * vel[i] + (1 - b2) * gi * gi;
                        double mh = mom[i] / (1 - Math.pow(b1, t)), vh = vel[i] / (1 - Math.pow(b2, t));
                        want[i] -= lr * mh / (Math.sqrt(vh) + eps);
                    }
                }
                double[] got = f64(param);
                for (int i = 0; i < 6; i++) assertEquals(want[i], got[i], 1e-6, "decay=" + decay + " element " + i);
                assertEquals(2, opt.adamSteps());
            }
    }

    @Test
    void updatesTrainableParametersFromAFreshThread() throws Exception {
        // A notebook kernel runs cells on new threads, where PyTorch's thread-local grad mode is on:
        // in-place updates of a leaf that requires grad must still work there.
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray param = f32(m, new double[] {1, 2, 3, 4}, 2, 2);
            param.setRequiresGradient(true);
            AdamW opt = new AdamW(List.of(new AdamW.Slot("w", param, true)), m, 0.9, 0.95, 1e-8, 0.1);
            Throwable[] failure = new Throwable[1];
            Thread t = new Thread(() -> {
                try { opt.step(List.of(f32(m, new double[] {1, 1, 1, 1}, 2, 2)), 0.1); } catch (Throwable e) { failure[0] = e; }
            });
            t.start();
            t.join();
            if (failure[0] != null) throw new AssertionError("AdamW step on a new thread failed", failure[0]);
            // first Adam step moves each weight by lr·sign(g) after decay: (1 − 0.01)·1 − 0.1
            assertEquals(0.89, f64(param)[0], 1e-5);
        }
    }

    @Test
    void onlyWeightMatricesEmbeddingsAndMapProjectionsAreDecayed() {
        // the recipe by name: wte, wpe, Linear "_weight", the maps' φ ("phi_*") and sHC's W ("w_*") decay;
        // LayerNorm gamma/beta, Linear bias and the maps' alpha, tau, gamma, b do not
        java.util.regex.Pattern decayed = java.util.regex.Pattern.compile(".*(wte|wpe|_weight|_phi_[a-z]+|_w_[a-z]+)$");
        try (NDManager m = NDManager.newBaseManager()) {
            for (String p : List.of("rc", "hc", "mhc", "mhc-lite", "shc")) {
                var g = hyperlab.nn.Gpt.create(hyperlab.nn.GptConfig.preset("tiny").paradigm(p)).init(m);
                List<AdamW.Slot> slots = AdamW.slotsOf(g);
                assertEquals(g.getParameters().size(), slots.size());
                for (AdamW.Slot s : slots)
                    assertEquals(decayed.matcher(s.name()).matches(), s.decay(), p + ": " + s.name());
                assertTrue(slots.stream().anyMatch(s -> s.name().endsWith("_gamma") && !s.decay()));
                if (!p.equals("rc")) assertTrue(slots.stream().anyMatch(s -> s.name().contains("_b_") && !s.decay()));
            }
        }
    }

    @Test
    void warmUpThenCosineFollowTheFormula() {
        double peak = 6e-4, floor = 6e-5;
        LrSchedule s = new LrSchedule(peak, floor, 10, 110);
        assertEquals(peak / 10, s.at(0), 1e-15);
        assertEquals(peak, s.at(9), 1e-15, "warm-up ends at the peak");
        assertEquals(peak, s.at(10), 1e-15, "the cosine starts at the peak");
        assertEquals((peak + floor) / 2, s.at(60), 1e-15, "halfway down the cosine is the midpoint");
        double end = floor + (peak - floor) * (1 + Math.cos(Math.PI * 99 / 100)) / 2;
        assertEquals(end, s.at(109), 1e-15);
        assertTrue(s.at(109) - floor < 1e-6);
        LrSchedule fromConfig = LrSchedule.of(TrainConfig.of("steps=50", "warmup=200"));
        assertEquals(5, fromConfig.warmup(), "capped at steps/10");
    }

    @Test
    void globalNormAndClippingMatchFloat64() {
        Random r = new Random(5);
        try (NDManager m = NDManager.newBaseManager()) {
            double[] a = random(r, 12), b = random(r, 5);
            List<NDArray> grads = List.of(f32(m, a, 3, 4), f32(m, b, 5));
            double sq = 0;
            for (NDArray g : grads) for (double x : f64(g)) sq += x * x;
            double want = Math.sqrt(sq);
            double norm = Gradients.globalNorm(grads);
            assertEquals(want, norm, 1e-6 * want);
            double scale = Gradients.clip(grads, norm, 1.0);
            assertEquals(1.0 / (want + 1e-6), scale, 1e-6);
            assertEquals(1.0, Gradients.globalNorm(grads), 1e-5, "clipped to the max norm");
            assertEquals(1.0, Gradients.clip(grads, 0.5, 1.0), "below the limit: untouched");
            grads.get(1).set(new ai.djl.ndarray.index.NDIndex("2"), Float.NaN);
            Gradients.zero(grads);
            assertEquals(0.0, Gradients.globalNorm(grads), "zeroing also clears NaN");
        }
    }

    @Test
    void crossEntropyMatchesLogSumExpInFloat64() {
        Random r = new Random(9);
        int b = 2, t = 3, v = 7;
        try (NDManager m = NDManager.newBaseManager()) {
            double[] logits = random(r, b * t * v);
            long[] targets = new long[b * t];
            for (int i = 0; i < targets.length; i++) targets[i] = r.nextInt(v);
            NDArray l32 = f32(m, logits, b, t, v);
            double[] l = f64(l32);
            double want = 0;
            for (int i = 0; i < b * t; i++) {
                double max = Double.NEGATIVE_INFINITY, sum = 0;
                for (int k = 0; k < v; k++) max = Math.max(max, l[i * v + k]);
                for (int k = 0; k < v; k++) sum += Math.exp(l[i * v + k] - max);
                want += max + Math.log(sum) - l[i * v + (int) targets[i]];
            }
            want /= b * t;
            double got = Loss.crossEntropy(l32, m.create(targets).reshape(b, t)).getFloat();
            assertEquals(want, got, 1e-5);
        }
    }
}
