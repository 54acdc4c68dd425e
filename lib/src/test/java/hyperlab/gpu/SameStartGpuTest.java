package hyperlab.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import hyperlab.cuda.Cuda;
import hyperlab.cuda.TestMetrics;
import hyperlab.train.TrainConfig;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The GPU engine and the CPU engine trained from the same initial weights give the same losses, norms and val loss. */
class SameStartGpuTest {

    /** Small enough for the emulator in CI; T = 64 spans two attention key tiles, mHC exercises the fused maps. */
    @Test
    void gpuEngineTracksTheCpuEngineFromTheSameStart(@TempDir Path dir) throws Exception {
        assumeTrue(TestDevices.cpuEngineAvailable(), "skipped: needs DJL's CPU engine for the reference");
        assumeTrue(TestDevices.gpuOrEmulator().isPresent(), TestDevices::why);
        Path data = Files.writeString(dir.resolve("text.txt"), GoldenWriter.sampleText());
        String gpu = Cuda.isAvailable() ? "gpu" : "emulator";
        for (String paradigm : new String[] {"rc", "mhc"}) {
            TrainConfig cfg = TrainConfig.of("paradigm=" + paradigm, "streams=" + (paradigm.equals("rc") ? 1 : 2), "context=64",
                    "batch=3", "steps=3", "log_every=1", "eval_every=3", "eval_batches=1", "checkpoint_every=0")
                    .with("data", data);
            SameStart cpu = SameStart.train(cfg.with("out", dir.resolve(paradigm + "-cpu")));
            SameStart dev = SameStart.train(cfg.with("out", dir.resolve(paradigm + "-" + gpu)).with("engine", gpu).with("precision", "fp32"));
            double gap = dev.worstRelativeGap(cpu);
            System.out.printf("same start, %s on %s: worst relative gap %.2e%n  cpu %s%n  %s %s%n", paradigm, gpu, gap, cpu, gpu, dev);
            assertTrue(gap < 1e-4, paradigm + ": " + gpu + " " + dev + " against cpu " + cpu);
        }
    }

    /** On the GPU machine, at GpuCompare's size (batch 32, T = 256, 6 x 384), against GoldenWriter's CPU numbers. */
    @ParameterizedTest(name = "precision={0}")
    @CsvSource({"fp32,1e-3", "bf16,2e-2"})
    void gpuEngineTracksTheCpuEngineAtGpuCompareSize(String precision, double tolerance, @TempDir Path out) throws Exception {
        assumeTrue(Cuda.isAvailable(), () -> "skipped, no usable GPU (the emulator is too slow at this size): "
                + Cuda.unavailableReason().orElse(""));
        String golden = System.getenv("HYPERLAB_GOLDEN");
        assumeTrue(golden != null && Files.isRegularFile(Path.of(golden, "scale", "cpu.properties")),
                "skipped: no $HYPERLAB_GOLDEN/scale (made by GoldenWriter; the device bundle carries it)");
        Path dir = Path.of(golden, "scale");
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(dir.resolve("cpu.properties"))) {
            p.load(r);
        }
        SameStart cpu = SameStart.load(p);
        TrainConfig cfg = TrainConfig.fromFile(dir.resolve("config.properties"))
                .with("data", dir.resolve("text.txt")).with("out", out).with("engine", "gpu")
                .with("precision", precision);
        SameStart gpu = SameStart.train(cfg);
        double gap = gpu.worstRelativeGap(cpu);
        TestMetrics.record("same_start_batch32_t256_worst_rel_gap" + (precision.equals("fp32") ? "" : "_" + precision), gap);
        System.out.printf(precision + ": same start at batch 32, T = 256: worst relative gap %.2e%n  cpu %s%n  gpu %s%n", gap, cpu, gpu);
        assertEquals(cpu.losses().length, gpu.losses().length, "steps");
        assertTrue(gap < tolerance, "gpu " + gpu + " against cpu " + cpu);
    }
}
