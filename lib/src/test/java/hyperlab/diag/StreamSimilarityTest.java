package hyperlab.diag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import hyperlab.nn.Gpt;
import hyperlab.nn.GptConfig;
import hyperlab.nn.MapInit;
import hyperlab.nn.Paradigm;
import java.util.List;
import org.junit.jupiter.api.Test;
import tech.tablesaw.api.Table;

class StreamSimilarityTest {
    @Test
    void handComputedCases() {
        assertEquals(1, StreamSimilarity.meanPairwiseCosine(new double[][] {{1, 2, 3}, {1, 2, 3}}), 1e-15, "identical");
        assertEquals(1, StreamSimilarity.meanPairwiseCosine(new double[][] {{1, 2, 3}, {2, 4, 6}}), 1e-15, "scale does not matter");
        assertEquals(0, StreamSimilarity.meanPairwiseCosine(new double[][] {{1, 0}, {0, 3}}), 0, "orthogonal");
        assertEquals(-1, StreamSimilarity.meanPairwiseCosine(new double[][] {{1, -2}, {-1, 2}}), 1e-15, "opposite");
        // pairs (a,b) = 0, (a,c) = (b,c) = 1/√2: mean √2/3
        assertEquals(Math.sqrt(2) / 3, StreamSimilarity.meanPairwiseCosine(new double[][] {{1, 0}, {0, 1}, {1, 1}}), 1e-15);
        assertTrue(Double.isNaN(StreamSimilarity.meanPairwiseCosine(new double[][] {{0, 0}, {1, 1}})), "a zero stream has no direction");
        assertThrows(IllegalArgumentException.class, () -> StreamSimilarity.meanPairwiseCosine(new double[][] {{1, 2}}));
    }

    @Test
    void modelTableMatchesAHandLoopAndKnownInvariants() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray ids = m.create(new int[] {3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8}).reshape(2, 6);
            // rows of a doubly stochastic H_res and H_post = 1 map identical copies to identical copies
            Gpt exact = Gpt.create(GptConfig.preset("tiny").context(8).paradigm(Paradigm.MHC).init(MapInit.RC_EXACT)).init(m);
            Table t = StreamSimilarity.of(exact, ids);
            System.out.println(t.printAll());
            assertEquals(5, t.rowCount(), "embedding + 2 layers x (attn, mlp)");
            for (int r = 0; r < t.rowCount(); r++) assertEquals(1, t.doubleColumn("min cos").get(r), 1e-5, "row " + r);

            Gpt paper = Gpt.create(GptConfig.preset("tiny").context(8).paradigm(Paradigm.SHC).init(MapInit.PAPER)).init(m);
            Table p = StreamSimilarity.of(paper, ids);
            List<NDArray> streams = paper.streams(new ParameterStore(m, false), ids);
            for (int point = 0; point < streams.size(); point++) {
                float[] x = streams.get(point).toFloatArray();   // (2, 6, 4, 32), token-major
                int n = 4, c = 32, tokens = 12;
                double sum = 0;
                for (int k = 0; k < tokens; k++) {
                    double pairs = 0;
                    for (int i = 0; i < n; i++)
                        for (int j = i + 1; j < n; j++) {
                            double dij = 0, dii = 0, djj = 0;
                            for (int e = 0; e < c; e++) {
                                double a = x[(k * n + i) * c + e], b = x[(k * n + j) * c + e];
                                dij += a * b; dii += a * a; djj += b * b;
                            }
                            pairs += dij / Math.sqrt(dii * djj);
                        }
                    sum += pairs / 6;
                }
                assertEquals(sum / tokens, p.doubleColumn("mean cos").get(point), 1e-9, "point " + point);
            }
            assertEquals(1, p.doubleColumn("mean cos").get(0), 1e-6, "the embedding is copied into the streams");
            assertTrue(p.doubleColumn("mean cos").get(1) < 1 - 1e-4, "σ(±1) gates write F unequally into the streams");
            assertThrows(IllegalArgumentException.class, () -> StreamSimilarity.of(Gpt.create(GptConfig.preset("tiny").context(8)).init(m), ids));
        }
    }
}
