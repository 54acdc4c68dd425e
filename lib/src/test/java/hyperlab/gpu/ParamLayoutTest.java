package hyperlab.gpu;

import ai.djl.ndarray.NDManager;
import ai.djl.nn.Parameter;
import hyperlab.nn.Gpt;
import hyperlab.nn.GptConfig;
import hyperlab.nn.Paradigm;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The GPU engine's parameter list is the DJL model's: same names, shapes, order and decay flags. */
class ParamLayoutTest {
    @ParameterizedTest
    @EnumSource(Paradigm.class)
    void matchesTheCpuModel(Paradigm p) {
        org.junit.jupiter.api.Assumptions.assumeTrue(TestDevices.cpuEngineAvailable(), "skipped: needs DJL's CPU engine");
        GptConfig cfg = GptConfig.preset("tiny").paradigm(p).layers(3);
        ParamLayout layout = ParamLayout.of(cfg);
        try (NDManager m = NDManager.newBaseManager()) {
            Gpt model = Gpt.create(cfg).init(m);
            var djl = model.getParameters();
            assertEquals(djl.size(), layout.entries().size(), "parameter count");
            for (int i = 0; i < djl.size(); i++) {
                ParamLayout.Entry e = layout.entries().get(i);
                assertEquals(djl.get(i).getKey(), e.name(), "name of tensor " + i);
                assertArrayEquals(djl.get(i).getValue().getArray().getShape().getShape(), e.shape(), e.name());
                assertEquals(djl.get(i).getValue().getType() == Parameter.Type.WEIGHT, e.decay(), e.name() + " decay");
            }
            long params = djl.values().stream().mapToLong(x -> x.getArray().size()).sum();
            assertEquals(params, layout.count());
        }
    }

    @ParameterizedTest
    @EnumSource(Paradigm.class)
    void tensorsTileTheBufferWithDecayedOnesFirst(Paradigm p) {
        ParamLayout layout = ParamLayout.of(GptConfig.preset("tiny").paradigm(p));
        List<ParamLayout.Entry> byOffset = layout.entries().stream()
                .sorted((a, b) -> Long.compare(a.offset(), b.offset())).toList();
        long next = 0;
        for (ParamLayout.Entry e : byOffset) {
            assertEquals(0, e.offset() * 4 % 256, e + " starts off a 256-byte boundary");
            assertEquals((next + 63) / 64 * 64, e.offset(), "more than the alignment's padding, or an overlap, before " + e);
            assertEquals(e.offset() < layout.decayed(), e.decay(), e + " on the wrong side of the decay boundary");
            next = e.offset() + e.size();
        }
        assertEquals((next + 63) / 64 * 64, layout.total());
        float[] init = layout.initialValues(1);
        for (int i = 0; i < init.length; i++) {
            final int at = i;
            if (byOffset.stream().noneMatch(e -> at >= e.offset() && at < e.offset() + e.size()))
                assertEquals(0f, init[i], "padding at " + i + " starts at zero (and AdamW keeps it there: zero gradient)");
        }
        ParamLayout.Entry gamma = layout.finalNorm("gamma", 2);
        for (int i = 0; i < gamma.size(); i++) assertEquals(1f, init[(int) gamma.offset() + i]);
        ParamLayout.Entry wte = layout.get("wte");
        double sq = 0;
        for (int i = 0; i < wte.size(); i++) sq += init[(int) wte.offset() + i] * init[(int) wte.offset() + i];
        double std = Math.sqrt(sq / wte.size());
        assertTrue(Math.abs(std - 0.02) < 0.002, "wte std " + std + " should be about 0.02 " + Arrays.toString(wte.shape()));
    }
}
