package hyperlab.gpu;

import hyperlab.cuda.Cuda;
import hyperlab.cuda.TestMetrics;
import hyperlab.train.TrainConfig;
import hyperlab.train.Trainer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * On a GPU: 200 training steps of the GPU engine from the CPU curve's seed checkpoint track the CPU engine's losses,
 * which GoldenWriter recorded beforehand (the GPU machine cannot run DJL). Reads $HYPERLAB_GOLDEN/curve. In fp32 the
 * gap stays under 1e-2; the bf16 engine must stay within the bf16 bar, 2e-2.
 */
class LossCurveGpuTest {
    @ParameterizedTest(name = "precision={0}")
    @CsvSource({"fp32,1e-2", "bf16,2e-2"})
    void twoHundredStepsTrackTheCpuCurve(String precision, double tolerance, @TempDir Path tmp) throws Exception {
        assumeTrue(Cuda.isAvailable(), () -> "skipped, no usable GPU: " + Cuda.unavailableReason().orElse(""));
        String golden = System.getenv("HYPERLAB_GOLDEN");
        assumeTrue(golden != null && Files.isDirectory(Path.of(golden, "curve")),
                "skipped: no $HYPERLAB_GOLDEN/curve (made by GoldenWriter; the device bundle carries it)");
        Path dir = Path.of(golden, "curve");
        List<Double> cpu = Files.readAllLines(dir.resolve("cpu-losses.txt")).stream().map(Double::valueOf).toList();
        Path out = tmp.resolve("gpu");
        Files.createDirectories(out.resolve("checkpoints"));
        try (var s = Files.list(dir.resolve("seed").resolve("checkpoints"))) {
            Path seed = s.filter(p -> p.toString().endsWith(".ckpt")).findFirst().orElseThrow();
            Files.copy(seed, out.resolve("checkpoints").resolve(seed.getFileName()));
        }
        TrainConfig cfg = TrainConfig.fromFile(dir.resolve("config.properties"))
                .with("data", dir.resolve("text.txt")).with("out", out).with("engine", "gpu")
                .with("precision", precision);
        List<Double> gpu;
        try (Trainer t = new Trainer(cfg)) {
            gpu = t.run().losses();
        }
        assertEquals(cpu.size(), gpu.size(), "steps");
        double worst = 0;
        for (int i = 0; i < cpu.size(); i++) worst = Math.max(worst, Math.abs(gpu.get(i) - cpu.get(i)) / cpu.get(i));
        double last = Math.abs(gpu.getLast() - cpu.getLast()) / cpu.getLast();
        String tag = precision.equals("fp32") ? "" : "_" + precision;
        TestMetrics.record("curve_200_steps_worst_rel_gap" + tag, worst);
        TestMetrics.record("curve_200_steps_final_rel_gap" + tag, last);
        System.out.printf(precision + ", 200 steps: CPU %.4f -> %.4f, GPU %.4f -> %.4f, worst relative gap %.2e%n",
                cpu.getFirst(), cpu.getLast(), gpu.getFirst(), gpu.getLast(), worst);
        assertTrue(worst < tolerance, "the GPU curve leaves the CPU curve: worst relative gap " + worst);
        assertTrue(gpu.getLast() < gpu.getFirst() - 0.5, "the GPU engine learns: " + gpu.getFirst() + " -> " + gpu.getLast());
    }
}
