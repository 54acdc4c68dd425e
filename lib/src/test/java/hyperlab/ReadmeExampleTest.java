package hyperlab;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDManager;
import hyperlab.manifold.Matrices;
import hyperlab.manifold.Sinkhorn;
import hyperlab.nn.Gpt;
import hyperlab.nn.GptConfig;
import hyperlab.nn.ParameterCounts;
import hyperlab.nn.Paradigm;
import org.junit.jupiter.api.Test;

/** The README's first example, line for line, so the front page cannot rot. */
class ReadmeExampleTest {
    @Test
    void readmeExampleRuns() {
        try (NDManager nd = NDManager.newBaseManager()) {
            var cfg = GptConfig.preset("tiny").paradigm(Paradigm.MHC).streams(4);
            Gpt model = Gpt.create(cfg).init(nd);
            var ids = nd.create(new int[] {72, 121, 112, 101, 114}).reshape(1, 5);
            assertEquals("(1, 5, 256)", model.logits(ids).getShape().toString());
            double[][] h = Sinkhorn.project(new double[][] {{1, 2}, {0, 1}}, 20);
            assertTrue(Matrices.marginalError(h) < 1e-9);
            assertEquals(10, ParameterCounts.table(4, "tiny", "M").rowCount());
        }
    }
}
