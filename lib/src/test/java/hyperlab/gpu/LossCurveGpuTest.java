package hyperlab.gpu;

import hyperlab.cuda.Cuda;
import hyperlab.cuda.TestMetrics;
import hyperlab.train.TrainConfig;
import hyperlab.train.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * On a GPU: 200 training steps of the GPU engine from the CPU curve's seed checkpoint track the CPU engine's losses,
 * which GoldenWriter recorded beforehand (the GPU machine cannot run DJL). Reads $HYPERLAB_GOLDEN/curve.
 */
class LossCurveGpuTest {
    @Test
    void twoHundredStepsTrackTheCpuCurve(@TempDir Path tmp) throws Exception {
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
                .with("data", dir.resolve("text.txt")).with("out", out).with("engine", "gpu");
        List<Double> gpu;
        try (Trainer t = new Trainer(cfg)) {
            gpu = t.run().losses();
        }
        assertEquals(cpu.size(), gpu.size(), "steps");
        double worst = 0;
        for (int i = 0; i < cpu.size(); i++) worst = Math.max(worst, Math.abs(gpu.get(i) - cpu.get(i)) / cpu.get(i));
        double last = Math.abs(gpu.getLast() - cpu.getLast()) / cpu.getLast();
        TestMetrics.record("curve_200_steps_worst_rel_gap", worst);
        TestMetrics.record("curve_200_steps_final_rel_gap", last);
        System.out.printf("200 steps: CPU %.4f -> %.4f, GPU %.4f -> %.4f, worst relative gap %.2e%n",
                cpu.getFirst(), cpu.getLast(), gpu.getFirst(), gpu.getLast(), worst);
        assertTrue(worst < 1e-2, "the GPU curve leaves the CPU curve: worst relative gap " + worst);
        assertTrue(gpu.getLast() < gpu.getFirst() - 0.5, "the GPU engine learns: " + gpu.getFirst() + " -> " + gpu.getLast());
    }
}
