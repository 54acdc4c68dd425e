package hyperlab.diag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import hyperlab.manifold.Matrices;
import hyperlab.nn.Gpt;
import hyperlab.nn.GptConfig;
import hyperlab.nn.MapInit;
import hyperlab.nn.Paradigm;
import java.util.Random;
import org.junit.jupiter.api.Test;
import tech.tablesaw.api.Table;

class GainsTest {
    @Test
    void gainsOfKnownMatrices() {
        double[][] h = {{1, -2}, {0.5, 0.25}};
        assertEquals(3, Gains.forward(h));
        assertEquals(2.25, Gains.backward(h));
        assertEquals(0, Gains.identityDistance(Matrices.identity(3)));
        assertEquals(1, Gains.forward(Matrices.uniform(5)), 1e-15);
        assertEquals(1, Gains.backward(Matrices.uniform(5)), 1e-15);
    }

    @Test
    void unconstrainedCompositeGainExplodesWhileTheManifoldsStayBounded() {
        Table all = Gains.randomComposite(4, 60, 0.2, 42);
        assertEquals(240, all.rowCount(), "60 layers x 4 paradigms");
        Table t = all.where(all.intColumn("block").isEqualTo(59));
        System.out.println(t.printAll());
        double hc = t.doubleColumn("composite fwd").get(0);
        assertTrue(hc > 10, "60 random HC layers should compound far beyond 1, got " + hc);
        assertTrue(t.doubleColumn("composite Σ err").get(0) > 1, "HC's product drifts off unit sums");
        for (int row = 1; row < t.rowCount(); row++) {
            String kind = t.stringColumn("kind").get(row);
            double fwd = t.doubleColumn("composite fwd").get(row), bwd = t.doubleColumn("composite bwd").get(row);
            if (kind.startsWith("mhc")) {
                assertEquals(1, fwd, 1e-9, kind + ": row sums of a doubly stochastic product are 1");
                assertTrue(bwd < 1.01, kind + " composite backward gain " + bwd);
            } else {
                assertTrue(t.doubleColumn("‖H−J‖₂").get(row) <= 1 + 1e-9, "sHC displacement bounded by 1");
                assertEquals(0, t.doubleColumn("composite Σ err").get(row), 1e-9, "sHC's product keeps unit row and column sums");
            }
        }
    }

    @Test
    void modelAtRcExactInitHasUnitGainsAndPaperInitNearUnit() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ids = m.create(new int[] {3, 1, 4, 1, 5, 9, 2, 6}).reshape(1, 8);
            Table hc = Gains.of(Gpt.create(GptConfig.preset("tiny").context(8).paradigm(Paradigm.HC)).init(m), ids);
            assertEquals(4, hc.rowCount(), "2 layers x (attn, mlp)");
            for (int r = 0; r < hc.rowCount(); r++) assertEquals(1, hc.doubleColumn("composite fwd").get(r), 1e-6);
            Table shc = Gains.of(Gpt.create(GptConfig.preset("tiny").context(8).paradigm(Paradigm.SHC).init(MapInit.PAPER)).init(m), ids);
            for (int r = 0; r < shc.rowCount(); r++) {
                assertEquals(1, shc.doubleColumn("‖H‖₂").get(r), 1e-6, "sHC stays on the unit spectral sphere");
                assertTrue(shc.doubleColumn("composite bwd").get(r) < 1 + 1e-5);
            }
            assertThrows(IllegalArgumentException.class, () -> Gains.of(Gpt.create(GptConfig.preset("tiny").context(8)).init(m), ids));
        }
    }

    @Test
    void randomMapsRespectTheirManifolds() {
        Random r = new Random(3);
        for (int trial = 0; trial < 10; trial++) {
            assertTrue(Matrices.marginalError(Gains.randomMap(Paradigm.MHC_LITE, 4, 0.3, r)) < 1e-14);
            assertTrue(Matrices.marginalError(Gains.randomMap(Paradigm.SHC, 4, 0.3, r)) < 1e-12);
        }
    }
}
