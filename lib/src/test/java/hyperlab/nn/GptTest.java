package hyperlab.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.training.ParameterStore;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class GptTest {
    static final GptConfig TINY = GptConfig.preset("tiny").context(16);

    static NDArray randomIds(NDManager m, int batch, int t, int vocab, long seed) {
        Random r = new Random(seed);
        int[] ids = new int[batch * t];
        for (int i = 0; i < ids.length; i++) ids[i] = r.nextInt(vocab);
        return m.create(ids).reshape(batch, t);
    }

    static long paramCount(Gpt g) {
        return g.getParameters().stream().mapToLong(e -> e.getValue().getArray().size()).sum();
    }

    @Test
    void withRcExactInitEveryParadigmGivesTheRcLogits() {
        try (NDManager m = NDManager.newBaseManager()) {
            Gpt rc = Gpt.create(TINY).init(m);
            NDArray ids = randomIds(m, 2, 16, TINY.vocab(), 1);
            NDArray want = rc.logits(ids);
            for (Paradigm p : List.of(Paradigm.HC, Paradigm.MHC, Paradigm.MHC_LITE, Paradigm.SHC))
                for (int n : new int[] {1, 2, 4}) {
                    Gpt g = Gpt.create(TINY.paradigm(p).streams(n).init(MapInit.RC_EXACT).seed(99)).init(m);
                    assertEquals(rc.getParameters().size(), g.copyWeightsFrom(rc), "every RC weight has a twin");
                    double diff = g.logits(ids).sub(want).abs().max().getFloat();
                    assertTrue(diff <= 1e-5, p.key() + " n=" + n + ": max |Δlogits| = " + diff);
                }
        }
    }

    @Test
    void paperInitStartsNextToTheIdentityResidual() {
        try (NDManager m = NDManager.newBaseManager()) {
            Gpt rc = Gpt.create(TINY).init(m);
            NDArray ids = randomIds(m, 1, 16, TINY.vocab(), 2);
            NDArray rcLogits = rc.logits(ids);
            double[] sigmoidOf = {1 / (1 + Math.exp(1)), 1 / (1 + Math.exp(-1))};   // σ(−1), σ(1)
            for (Paradigm p : List.of(Paradigm.HC, Paradigm.MHC, Paradigm.MHC_LITE, Paradigm.SHC)) {
                Gpt g = Gpt.create(TINY.paradigm(p).streams(4)).init(m);
                g.copyWeightsFrom(rc);
                ParameterStore ps = new ParameterStore(m, false);
                List<NDArray> streams = g.streams(ps, ids);
                double worst = 0;
                for (int b = 0; b < g.blocks().size(); b++) {
                    HyperConnection block = g.blocks().get(b);
                    var maps = block.maps(ps, streams.get(b), false);
                    double[] res = maps.res().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
                    double[] pre = maps.pre().toType(ai.djl.ndarray.types.DataType.FLOAT64, false).toDoubleArray();
                    for (int i = 0; i < res.length; i++) worst = Math.max(worst, Math.abs(res[i] - ((i % 16) / 4 == i % 4 ? 1 : 0)));
                    int hot = b % 4;
                    for (int i = 0; i < pre.length; i++) {
                        double want = p == Paradigm.HC ? (i % 4 == hot ? 1 : 0) : sigmoidOf[i % 4 == hot ? 1 : 0];
                        assertEquals(want, pre[i], 1e-6, p.key() + " H_pre at init (Appendix G)");
                    }
                }
                // Appendix G bounds: mHC-lite's identity keeps 1 − 23·w with w = e⁻⁸/(1+23e⁻⁸), so diag ≥ 1 − 18w
                double bound = switch (p) {
                    case HC -> 0;
                    case MHC -> 3 * Math.exp(-8);
                    case MHC_LITE -> 18 * Math.exp(-8);
                    default -> 1 - Math.tanh(4);
                };
                assertTrue(worst <= bound + 1e-6, p.key() + ": max |H_res − I| = " + worst + " > " + bound);
                double dl = g.logits(ids).sub(rcLogits).abs().max().getFloat();
                System.out.printf("PAPER init, %-8s n=4: max |H_res - I| = %.2e, max |logits - RC logits| = %.2e%n", p.key(), worst, dl);
            }
        }
    }

    @Test
    void appendixGValuesAreWhatTheBlocksStartWith() {
        Map<String, double[]> mhc = initOf(Paradigm.MHC, 0);
        assertArrayEq(new double[] {1, -1, -1, -1}, mhc.get("b_pre"));
        assertArrayEq(new double[] {1, -1, -1, -1}, mhc.get("b_post"));
        assertArrayEq(new double[] {0.01}, mhc.get("alpha_res"));
        for (int i = 0; i < 16; i++) assertEquals(i / 4 == i % 4 ? 0 : -8, mhc.get("b_res")[i]);
        assertTrue(java.util.Arrays.stream(mhc.get("phi_res")).allMatch(v -> v == 0));
        Map<String, double[]> lite = initOf(Paradigm.MHC_LITE, 1);
        assertArrayEq(new double[] {-1, 1, -1, -1}, lite.get("b_pre"));
        assertEquals(0, lite.get("b_res")[0]);
        assertEquals(23, java.util.Arrays.stream(lite.get("b_res")).filter(v -> v == -8).count());
        Map<String, double[]> shc = initOf(Paradigm.SHC, 0);
        assertArrayEq(new double[] {4, 4, 4}, shc.get("b_s"));
        assertArrayEq(new double[] {0.01}, shc.get("tau_u"));
        assertArrayEq(new double[] {1}, shc.get("gamma_v"));
        assertArrayEq(new double[] {0, 0, 0}, shc.get("b_u"));
        Map<String, double[]> hc = initOf(Paradigm.HC, 2);
        for (int i = 0; i < 16; i++) assertEquals(i / 4 == i % 4 ? 1 : 0, hc.get("b_res")[i]);
    }

    @Test
    void parameterCountsEqualThePapersClosedForms() {
        try (NDManager m = NDManager.newBaseManager()) {
            for (Paradigm p : Paradigm.values())
                for (int n = 1; n <= (p == Paradigm.RC ? 1 : 4); n++)
                    for (boolean dyn : new boolean[] {true, false}) {
                        GptConfig c = TINY.paradigm(p).streams(n).dynamic(dyn);
                        assertEquals(ParameterCounts.total(c), paramCount(Gpt.create(c).init(m)), c.toString());
                    }
        }
        for (String preset : new String[] {"M", "L"})
            for (Paradigm p : Paradigm.values())
                for (int n = 1; n <= (p == Paradigm.RC ? 1 : 6); n++) {
                    GptConfig c = GptConfig.preset(preset).paradigm(p).streams(n);
                    assertEquals(ParameterCounts.perBlock(p, n, c.width(), true), MapSpec.count(p, n, c.width(), true), preset + " " + p + " n=" + n);
                }
        assertEquals(124_475_904L, ParameterCounts.base(GptConfig.preset("M")), "nanoGPT 124M with vocab 50304 and biases");
        System.out.println(ParameterCounts.table(4, "tiny", "M", "L").printAll());
    }

    @Test
    void badConfigsAndInputsGetClearErrors() {
        assertMessage(() -> TINY.paradigm(Paradigm.MHC).streams(0), "streams = 0");
        assertMessage(() -> TINY.width(30).heads(4), "width = 30 is not divisible by heads = 4");
        assertMessage(() -> Paradigm.parse("mhcx"), "paradigm = 'mhcx' is unknown: use one of rc, hc, mhc, mhc-lite, shc");
        assertMessage(() -> TINY.streams(4), "streams = 4 with paradigm rc");
        assertMessage(() -> TINY.paradigm(Paradigm.MHC_LITE).streams(7), "streams = 7 with paradigm mhc-lite");
        assertMessage(() -> GptConfig.preset("XL"), "preset = 'XL' is unknown");
        assertMessage(() -> TINY.layers(0), "layers = 0");
        assertEquals(Paradigm.MHC_LITE, Paradigm.parse("MHC_LITE"));
        try (NDManager m = NDManager.newBaseManager()) {
            Gpt g = Gpt.create(TINY).init(m);
            assertMessage(() -> g.logits(m.create(new int[] {1, 256}).reshape(1, 2)), "token ids range over [1, 256]");
            assertMessage(() -> g.logits(randomIds(m, 1, 17, 256, 3)), "sequence length 17 exceeds context = 16");
            assertMessage(() -> g.forward(new ParameterStore(m, false), new NDList(m.create(new int[] {1, 2})), false), "token ids have shape (2)");
        }
    }

    static Map<String, double[]> initOf(Paradigm p, int blockIndex) {
        Map<String, double[]> w = new java.util.HashMap<>();
        for (MapSpec.Param s : MapSpec.of(p, 4, 8, true, MapInit.PAPER, blockIndex)) w.put(s.name(), s.init());
        return w;
    }

    static void assertArrayEq(double[] want, double[] got) {
        assertEquals(java.util.Arrays.toString(want), java.util.Arrays.toString(got));
    }

    static void assertMessage(org.junit.jupiter.api.function.Executable call, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' lacks '" + fragment + "'");
    }
}
