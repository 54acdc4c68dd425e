package hyperlab.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.index.NDIndex;
import hyperlab.data.Corpus;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tech.tablesaw.api.Table;

class TrainerTest {
    @TempDir Path dir;

    /** A small repetitive text: four sentences in a seeded random order. */
    Corpus repetitive() throws Exception {
        String[] s = {"the cat sat on the mat. ", "a dog ran in the fog. ", "we sing as we go. ", "to be or not to be. "};
        Random r = new Random(11);
        StringBuilder sb = new StringBuilder();
        while (sb.length() < 20_000) sb.append(s[r.nextInt(s.length)]);
        return Corpus.fromFile(Files.writeString(dir.resolve("rep.txt"), sb));
    }

    /** −Σ p log p over byte frequencies, in nats: what a model that ignores context can reach at best. */
    static double unigramEntropy(byte[] text) {
        long[] counts = new long[256];
        for (byte b : text) counts[b & 0xFF]++;
        double h = 0;
        for (long c : counts) if (c > 0) h -= (double) c / text.length * Math.log((double) c / text.length);
        return h;
    }

    TrainConfig tiny(String... more) {
        List<String> o = new ArrayList<>(List.of("preset=tiny", "context=32", "width=32", "layers=2", "batch=8",
                "out=" + dir.resolve("run"), "log_every=1"));
        o.addAll(List.of(more));
        return TrainConfig.defaults().with(o);
    }

    @Test
    void aTinyModelBeatsTheUnigramEntropyOfItsText() throws Exception {
        Corpus c = repetitive();
        double h = unigramEntropy(Files.readAllBytes(c.file()));
        TrainConfig cfg = tiny("paradigm=rc", "steps=60", "lr=1e-2", "eval_every=0", "log_every=10");
        try (Trainer t = new Trainer(cfg, c)) {
            Run run = t.run();
            System.out.printf("unigram entropy %.4f nats; first loss %.4f, last %.4f, val %.4f%n",
                    h, run.losses().getFirst(), run.losses().getLast(), run.valLoss());
            assertEquals(60, run.losses().size());
            assertTrue(run.valLoss() < h, "val loss " + run.valLoss() + " is not below the unigram entropy " + h);
            Table m = run.metrics();
            assertEquals(List.of(1, 10, 20, 30, 40, 50, 60), m.intColumn("step").asList());
            assertEquals(run.valLoss(), m.doubleColumn("val_loss").get(6));
            List<String> lines = Files.readAllLines(cfg.out().resolve("metrics.jsonl"));
            assertEquals(7, lines.size());
            for (String key : List.of("\"step\":", "\"loss\":", "\"lr\":", "\"grad_norm\":", "\"tokens_per_s\":"))
                assertTrue(lines.get(3).contains(key), lines.get(3));
            assertTrue(lines.get(6).contains("\"val_loss\":"), lines.get(6));
            assertTrue(Sampler.generate(run.model(), run.tokenizer(), "the ", 20, 0.0, 1).startsWith("the "));
        }
    }

    @Test
    void resumingACrashedRunReproducesTheUninterruptedLossesBitForBit() throws Exception {
        // One intra-op thread: with several, MKL/OpenMP may split reductions differently on a busy
        // machine, and then even two uninterrupted runs differ in the last bits.
        ai.djl.engine.Engine.getInstance();
        int threads = ai.djl.pytorch.jni.JniUtils.getNumThreads();
        ai.djl.pytorch.jni.JniUtils.setNumThreads(1);
        try {
            resumeBitForBit();
        } finally {
            ai.djl.pytorch.jni.JniUtils.setNumThreads(threads);
        }
    }

    void resumeBitForBit() throws Exception {
        Corpus c = repetitive();
        TrainConfig straight = tiny("paradigm=mhc", "streams=4", "context=16", "steps=20", "checkpoint_every=10",
                "eval_every=10", "out=" + dir.resolve("a"));
        List<Double> want;
        try (Trainer t = new Trainer(straight, c)) {
            want = t.run().losses();
        }
        TrainConfig crashing = straight.out(dir.resolve("b"));
        try (Trainer t = new Trainer(crashing, c)) {
            t.onMetrics(m -> { if (m.step() == 13) throw new IllegalStateException("simulated crash"); });
            assertThrows(IllegalStateException.class, t::run);
        }
        try (Trainer t = new Trainer(crashing.with("resume", true), c)) {
            Run run = t.run();
            assertEquals(10, run.firstStep(), "resumed from the step-10 checkpoint");
            assertEquals(want.subList(10, 20), run.losses(), "the same losses, exactly");
            assertEquals(List.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20),
                    run.metrics().intColumn("step").asList(), "metrics.jsonl keeps each step once");
        }
    }

    @Test
    void aTruncatedOrAlteredCheckpointIsRefusedByName() throws Exception {
        Corpus c = repetitive();
        TrainConfig cfg = tiny("context=16", "steps=4", "checkpoint_every=2");
        try (Trainer t = new Trainer(cfg, c)) {
            t.run();
        }
        List<Path> ckpts = Checkpoint.list(cfg.out());
        assertEquals(2, ckpts.size(), "the newest two are kept");
        Path last = ckpts.getLast();
        byte[] good = Files.readAllBytes(last);
        try (RandomAccessFile f = new RandomAccessFile(last.toFile(), "rw")) {
            f.seek(good.length / 2);
            f.write(good[good.length / 2] ^ 1);
        }
        var e = assertThrows(IllegalStateException.class, () -> { try (Trainer t = new Trainer(cfg.with("resume", true), c)) { t.run(); } });
        assertTrue(e.getMessage().contains(last.toString()) && e.getMessage().contains("sha256"), e.getMessage());
        Files.write(last, java.util.Arrays.copyOf(good, good.length - 100));
        e = assertThrows(IllegalStateException.class, () -> Checkpoint.verify(last));
        assertTrue(e.getMessage().contains(last.toString()), e.getMessage());
        Files.writeString(last, "not a checkpoint at all, but long enough to pass the size check", StandardCharsets.UTF_8);
        e = assertThrows(IllegalStateException.class, () -> Checkpoint.verify(last));
        assertTrue(e.getMessage().contains("header"), e.getMessage());
    }

    @Test
    void aNanoGptBinFileTrainsAsIsAndIdsBeyondTheVocabularyAreRefused() throws Exception {
        Path bin = dir.resolve("train.bin");
        hyperlab.data.TokenFile.write(bin, new hyperlab.data.BytesTokenizer().encode("abcabd".repeat(400)));
        try (Trainer t = new Trainer(tiny("context=16", "steps=2", "data=" + bin))) {
            assertEquals(2, t.run().losses().size());
        }
        Path big = dir.resolve("gpt2.bin");
        hyperlab.data.TokenFile.write(big, new int[] {15496, 995, 15496, 995});
        var e = assertThrows(IllegalArgumentException.class, () -> new Trainer(tiny("context=2", "steps=1", "data=" + big)).close());
        assertTrue(e.getMessage().contains("15496") && e.getMessage().contains("tokenizer="), e.getMessage());
    }

    @Test
    void resumingOnOtherDataIsRefused() throws Exception {
        TrainConfig cfg = tiny("context=16", "steps=2");
        try (Trainer t = new Trainer(cfg, repetitive())) {
            t.run();
        }
        Corpus other = Corpus.fromFile(Files.writeString(dir.resolve("other.txt"), "something else entirely. ".repeat(200)));
        var e = assertThrows(IllegalStateException.class, () -> { try (Trainer t = new Trainer(cfg.with("resume", true).steps(4), other)) { t.run(); } });
        assertTrue(e.getMessage().contains("same data"), e.getMessage());
    }

    @Test
    void nanStepsAreSkippedThenTheRunStops() throws Exception {
        Corpus c = repetitive();
        TrainConfig cfg = tiny("context=16", "steps=10", "max_bad_steps=3");
        try (Trainer t = new Trainer(cfg, c)) {
            NDArray wte = t.model().getParameters().get("wte").getArray();
            wte.set(new NDIndex("..."), Float.NaN);                  // poisoned weights: every loss is NaN
            NDArray gamma = t.model().getParameters().stream().filter(p -> p.getKey().endsWith("ln_f_gamma"))
                    .findFirst().orElseThrow().getValue().getArray();
            float[] before = gamma.toFloatArray();
            List<Metrics> seen = new ArrayList<>();
            t.onMetrics(seen::add);
            var e = assertThrows(IllegalStateException.class, t::run);
            assertTrue(e.getMessage().contains("3 steps in a row") && e.getMessage().contains("max_bad_steps"), e.getMessage());
            assertEquals(3, seen.size());
            assertTrue(seen.stream().allMatch(m -> m.skipped() && Double.isNaN(m.loss())));
            assertArrayEquals(before, gamma.toFloatArray(), "no update was applied");
        }
    }
}
