package hyperlab.gpu;

import hyperlab.nn.GptConfig;
import hyperlab.nn.Paradigm;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The golden files the GPU engine is checked against: they round-trip, and their loss is their logits' cross-entropy. */
class GoldenWriterTest {
    @Test
    void goldenFileRoundTripsAndIsSelfConsistent(@TempDir Path dir) {
        org.junit.jupiter.api.Assumptions.assumeTrue(TestDevices.cpuEngineAvailable(), "skipped: needs DJL's CPU engine");
        GptConfig cfg = GptConfig.preset("tiny").paradigm(Paradigm.MHC).streams(3).layers(1);
        Golden g = GoldenWriter.make(cfg, 2, 16);
        Path f = dir.resolve(GoldenWriter.fileName(cfg));
        g.write(f);
        Golden back = Golden.read(f);
        assertEquals(g.config(), back.config());
        assertArrayEquals(g.ids(), back.ids());
        assertArrayEquals(g.logits(), back.logits());
        assertEquals(ParamLayout.of(cfg).entries().size(), back.params().size());
        for (String name : g.params().keySet()) assertArrayEquals(g.grads().get(name), back.grads().get(name), name);
        // float64 cross-entropy of the stored logits = the stored loss
        int v = cfg.vocab(), rows = g.ids().length;
        double sum = 0;
        for (int i = 0; i < rows; i++) {
            double m = Double.NEGATIVE_INFINITY, s = 0;
            for (int j = 0; j < v; j++) m = Math.max(m, g.logits()[i * v + j]);
            for (int j = 0; j < v; j++) s += Math.exp(g.logits()[i * v + j] - m);
            sum += m + Math.log(s) - g.logits()[i * v + g.targets()[i]];
        }
        assertEquals(sum / rows, g.loss(), 1e-5);
        assertEquals(g.loss64(), g.loss(), 1e-5, "float32 and float64 DJL agree on the loss");
        double phiGrad = 0;
        for (float x : g.grads().get("01h0_attn_phi_res")) phiGrad += x * x;
        assertTrue(phiGrad > 0, "the perturbed maps must carry a gradient into phi_res");
    }
}
