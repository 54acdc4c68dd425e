package hyperlab.diag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import hyperlab.nn.GptConfig;
import hyperlab.nn.ParameterCounts;
import hyperlab.nn.Paradigm;
import org.junit.jupiter.api.Test;

class OverheadTest {
    @Test
    void transformerFlopsFollowTwoPerWeightPlusAttention() {
        GptConfig m = GptConfig.preset("M");
        long nonEmbedding = ParameterCounts.base(m) - (long) m.vocab() * m.width() - (long) m.context() * m.width();
        // 2 FLOPs per weight (biases and norms aside: 13C + 2C per layer are O(C)) + 4·L·T·C attention + the tied head
        long expect = 2 * (nonEmbedding - m.layers() * 13L * m.width() - 2L * m.width())
                + 4L * m.layers() * m.context() * m.width() + 2L * m.vocab() * m.width();
        assertEquals(expect, Overhead.transformerFlops(m));
    }

    @Test
    void rcHasNoOverheadAndMhcAtMScaleIsSmall() {
        assertEquals(0, Overhead.flops(GptConfig.preset("M")).hyperConnections());
        double mhc = Overhead.flops(GptConfig.preset("M").paradigm(Paradigm.MHC).streams(4)).ratio();
        double lite = Overhead.flops(GptConfig.preset("M").paradigm(Paradigm.MHC_LITE).streams(4)).ratio();
        assertTrue(mhc > 0 && mhc < 0.05, "mHC n=4 adds " + mhc);
        assertTrue(lite > mhc, "24 permutation weights cost more than 16 Sinkhorn logits");
        System.out.println(Overhead.table("M", 4).printAll());
    }

    @Test
    void recomputeBlockMinimisesMemoryAndMatchesThePapersApproximation() {
        for (int n : new int[] {2, 4, 8})
            for (int layers : new int[] {12, 24, 48, 96}) {
                int best = Overhead.recomputeBlock(n, layers);
                long mem = Overhead.recomputeMemory(n, 768, layers, best);
                for (int lr = 1; lr <= layers; lr++) assertTrue(mem <= Overhead.recomputeMemory(n, 768, layers, lr));
                double approx = Math.sqrt((double) n * layers / (n + 2));
                assertTrue(Math.abs(best - approx) <= 1.5, "n=" + n + " L=" + layers + ": " + best + " vs sqrt(nL/(n+2)) = " + approx);
            }
        assertThrows(IllegalArgumentException.class, () -> Overhead.recomputeMemory(4, 8, 12, 0));
    }
}
