package hyperlab.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import hyperlab.nn.Gpt;
import hyperlab.nn.GptConfig;
import hyperlab.nn.MapInit;
import hyperlab.nn.Paradigm;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TrainConfigTest {
    @TempDir Path dir;

    @Test
    void defaultsAreThePaperRecipe() {
        TrainConfig c = TrainConfig.defaults();
        assertEquals(6e-4, c.lr());
        assertEquals(6e-5, c.minLr());
        assertEquals(200, c.warmup());
        assertEquals(0.1, c.weightDecay());
        assertEquals(0.9, c.beta1());
        assertEquals(0.95, c.beta2());
        assertEquals(1.0, c.gradClip());
        assertEquals("cpu", c.engine());
        assertEquals(20, c.effectiveWarmup(), "200 steps: warm-up capped at steps/10");
        assertEquals(200, c.steps(2000).effectiveWarmup());
    }

    @Test
    void overridesShapeTheModel() {
        TrainConfig c = TrainConfig.of("paradigm=mhc", "streams=2", "context=32", "width=48", "heads=3", "steps=7");
        assertEquals(Paradigm.MHC, c.model().paradigm());
        assertEquals(2, c.model().streams());
        assertEquals(32, c.model().context());
        assertEquals(48, c.model().width());
        assertEquals(256, c.model().vocab(), "bytes");
        assertEquals(4, TrainConfig.of("paradigm=shc").model().streams(), "hyper-connections default to n = 4");
        assertEquals(50257, TrainConfig.of("tokenizer=gpt2").model().vocab(), "tiny grows to GPT-2's vocabulary");
        assertEquals(50304, TrainConfig.of("tokenizer=gpt2", "preset=M").model().vocab(), "M keeps its padded vocabulary");
        assertEquals(c, TrainConfig.parse(c.toMap()), "toMap round-trips");
    }

    @Test
    void fileThenArgumentsInThatOrder() throws Exception {
        Path f = Files.writeString(dir.resolve("run.properties"), "# a run\nsteps = 300\nlr=1e-3\nparadigm=hc\n");
        TrainConfig c = TrainConfig.fromFile(f).with(List.of("steps=50"));
        assertEquals(50, c.steps());
        assertEquals(1e-3, c.lr());
        assertEquals(Paradigm.HC, c.paradigm());
    }

    @Test
    void unknownKeysAndBadValuesAreRefusedByName() throws Exception {
        var e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("stpes=10"));
        assertTrue(e.getMessage().contains("unknown key 'stpes'") && e.getMessage().contains("steps, lr"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("steps=-3"));
        assertTrue(e.getMessage().startsWith("steps = '-3'") && e.getMessage().contains("positive integer"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("paradigm=xhc"));
        assertTrue(e.getMessage().contains("mhc-lite"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("beta2=1"));
        assertTrue(e.getMessage().contains("beta2 = '1'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("resume=yes"));
        assertTrue(e.getMessage().contains("true or false"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("engine=tpu"));
        assertTrue(e.getMessage().contains("cpu, gpu or emulator"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("engine=gpu", "precision=fp16"));
        assertTrue(e.getMessage().contains("precision = 'fp16'") && e.getMessage().contains("bf16"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("precision=bf16"));
        assertTrue(e.getMessage().contains("engine=cpu"), e.getMessage());
        assertEquals("bf16", TrainConfig.of("engine=gpu").effectivePrecision());
        assertEquals("fp32", TrainConfig.of("engine=emulator").effectivePrecision());
        assertEquals("bf16", TrainConfig.of("engine=emulator", "precision=bf16").effectivePrecision());
        assertEquals("fp32", TrainConfig.of("engine=gpu").streamPrecision());
        assertEquals("bf16", TrainConfig.of("engine=gpu", "stream_precision=bf16").streamPrecision());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("engine=gpu", "stream_precision=fp16"));
        assertTrue(e.getMessage().contains("stream_precision = 'fp16'") && e.getMessage().contains("fp32 or bf16"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("engine=emulator", "stream_precision=bf16"));
        assertTrue(e.getMessage().contains("precision is bf16"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("width=30", "heads=4"));
        assertTrue(e.getMessage().contains("divisible"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("steps"));
        assertTrue(e.getMessage().contains("key=value"), e.getMessage());
        Path f = Files.writeString(dir.resolve("bad.properties"), "lr=fast\n");
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.fromFile(f));
        assertTrue(e.getMessage().contains("bad.properties") && e.getMessage().contains("lr = 'fast'"), e.getMessage());
    }

    @Test
    void mapKeysReachTheModel() {
        GptConfig d = TrainConfig.defaults().model();
        assertTrue(d.dynamic() && d.sinkhornIterations() == 20 && !d.sinkhornLogDomain() && d.init() == MapInit.PAPER, d.toString());
        TrainConfig c = TrainConfig.of("paradigm=mhc", "dynamic=false", "sinkhorn_iters=7", "sinkhorn_log=TRUE", "init=RC-exact");
        GptConfig g = c.model();
        assertEquals(false, g.dynamic());
        assertEquals(7, g.sinkhornIterations());
        assertEquals(true, g.sinkhornLogDomain());
        assertEquals(MapInit.RC_EXACT, g.init());
        assertEquals(c, TrainConfig.parse(c.toMap()), "toMap round-trips the map keys");
        assertEquals("rc_exact", c.toMap().get("init"));
        String keys = TrainConfig.describeKeys();
        for (String k : List.of("dynamic", "sinkhorn_iters", "sinkhorn_log", "init")) assertTrue(keys.contains("  " + k + " "), k);
    }

    @Test
    void staticHcBuildsAModelWithoutTheDynamicProjections() {
        // independent of the config code: the built model's parameter names say whether φ exists
        try (NDManager m = NDManager.newBaseManager()) {
            long dyn = phiCount(Gpt.create(TrainConfig.of("paradigm=hc", "context=8").model()).init(m));
            long stat = phiCount(Gpt.create(TrainConfig.of("paradigm=hc", "context=8", "dynamic=false").model()).init(m));
            assertTrue(dyn > 0, "dynamic HC has φ projections");
            assertEquals(0, stat, "dynamic=false leaves only the static maps");
        }
    }

    private static long phiCount(Gpt g) {
        return g.getParameters().keys().stream().filter(k -> k.contains("phi")).count();
    }

    @Test
    void badMapValuesAreRefusedByName() {
        var e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("dynamic=maybe"));
        assertTrue(e.getMessage().startsWith("dynamic = 'maybe'") && e.getMessage().contains("true or false"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("sinkhorn_iters=0"));
        assertTrue(e.getMessage().startsWith("sinkhorn_iters = '0'") && e.getMessage().contains("positive integer"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("sinkhorn_log=1"));
        assertTrue(e.getMessage().startsWith("sinkhorn_log = '1'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> TrainConfig.of("init=xavier"));
        assertTrue(e.getMessage().startsWith("init = 'xavier'") && e.getMessage().contains("paper") && e.getMessage().contains("rc_exact"), e.getMessage());
    }
}
