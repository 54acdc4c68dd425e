package hyperlab.diag;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import hyperlab.nn.Paradigm;
import hyperlab.train.TrainConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tech.tablesaw.api.Table;

class ComparisonTest {
    @TempDir Path dir;

    @Test
    void tinyRunsGiveOneRowPerParadigmWithTheirManifoldsInvariants() throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 400; i++) sb.append("In the beginning God created the heaven and the earth. ").append(i).append('\n');
        Path text = Files.writeString(dir.resolve("text.txt"), sb);
        TrainConfig base = TrainConfig.of("context=16", "batch=2", "steps=4", "warmup=0", "eval_every=0", "eval_batches=1",
                "log_every=2", "checkpoint_every=0", "data=" + text);
        Comparison c = new Comparison(base, dir.resolve("runs"));

        // reference: the byte frequencies of the file, counted here
        byte[] bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
        long[] counts = new long[256];
        for (byte b : bytes) counts[b & 0xff]++;
        double h = 0;
        for (long k : counts) if (k > 0) h -= (double) k / bytes.length * Math.log((double) k / bytes.length);
        assertEquals(h, c.unigram()[0], 1e-12, "unigram entropy of the bytes");

        List<Comparison.Result> rs = List.of(c.train(Paradigm.RC), c.train(Paradigm.MHC_LITE));
        Table t = Comparison.table(rs, c.unigram());
        System.out.println(t.printAll());
        assertEquals(2, t.rowCount());
        assertEquals(List.of(1, 4), t.intColumn("streams").asList());
        assertEquals(1, rs.get(1).compositeFwd(), 1e-5, "mHC-lite's maps are exactly doubly stochastic");
        assertEquals(1, rs.get(1).compositeBwd(), 1e-5);
        assertTrue(rs.get(1).compositeSumErr() < 1e-5);
        assertEquals(4, rs.get(1).gains().rowCount(), "2 layers x (attn, mlp)");
        assertEquals(rs.get(1).gains().doubleColumn("composite bwd").get(3), rs.get(1).compositeBwd(), 0);
        assertEquals(4, Comparison.gains(rs).rowCount(), "rc has no gains table");
        assertTrue(rs.get(0).valLoss() < rs.get(0).firstLoss(), "4 steps already lower the loss");

        Map<Paradigm, double[]> tps = c.bench(List.of(Paradigm.RC, Paradigm.MHC_LITE), 1, 2);
        String json = c.benchJson(tps, 2, rs, new double[] {0, 0});
        assertTrue(json.contains("\"rc\": {\"streams\": 1") && json.contains("\"step_time_vs_rc\": 1.000"), json);
        assertTrue(json.contains("\"mhc-lite\": {\"streams\": 4") && json.contains("\"djl\": \"0.35.1\""), json);
    }
}
