package hyperlab.gpu;

import hyperlab.cuda.Gpu;
import hyperlab.train.Checkpoint;
import hyperlab.train.Run;
import hyperlab.train.TrainConfig;
import hyperlab.train.Trainer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The GPU engine inside the shared trainer (on the emulator when there is no GPU): its loss curve tracks the CPU
 * engine's from the same weights and data, and checkpoints move between the engines.
 */
class GpuEngineTest {
    private static final Gpu DEVICE = TestDevices.gpuOrEmulator().orElse(null);
    @TempDir Path dir;

    @BeforeEach
    void needsDeviceAndCpuEngine() {
        assumeTrue(DEVICE != null, TestDevices::why);
        assumeTrue(TestDevices.cpuEngineAvailable(), "skipped: needs DJL's CPU engine as the reference (on the GPU machine"
                + " LossCurveGpuTest compares with a CPU curve made beforehand instead)");
    }

    private String engine() {
        return DEVICE.emulated() ? "emulator" : "gpu";
    }

    private TrainConfig config(String engine, String out, int steps) throws Exception {
        Path text = dir.resolve("t.txt");
        if (!Files.exists(text)) Files.writeString(text, "In the beginning was the word, and the word was with the text. ".repeat(60));
        return TrainConfig.of("paradigm=mhc", "streams=2", "context=16", "batch=2", "steps=" + steps, "eval_every=0",
                "eval_batches=1", "log_every=1", "checkpoint_every=2", "engine=" + engine, "data=" + text, "out=" + dir.resolve(out));
    }

    @Test
    void lossCurveTracksTheCpuEngineFromTheSameStart() throws Exception {
        int steps = 6;
        List<Double> cpu, gpu;
        // the same initial weights: the CPU engine's first checkpoint seeds both runs
        try (Trainer t = new Trainer(config("cpu", "seed", 1).with("min_lr", "0").with("lr", "1e-12"))) {
            t.run();
        }
        Path start = Checkpoint.list(dir.resolve("seed")).getLast();
        cpu = trainFrom(start, "cpu", steps);
        gpu = trainFrom(start, engine(), steps);
        double worst = 0;
        for (int i = 0; i < steps; i++) worst = Math.max(worst, Math.abs(cpu.get(i) - gpu.get(i)) / cpu.get(i));
        System.out.println("cpu " + cpu + "\n" + engine() + " " + gpu + "\nworst relative gap " + worst);
        assertTrue(worst < 2e-3, "loss curves separate: worst relative gap " + worst + "\ncpu " + cpu + "\ngpu " + gpu);
        assertTrue(gpu.getLast() < gpu.getFirst(), "the GPU engine's loss falls: " + gpu);
    }

    private List<Double> trainFrom(Path checkpoint, String engine, int steps) throws Exception {
        Path out = dir.resolve("run-" + engine);
        Files.createDirectories(out.resolve("checkpoints"));
        Files.copy(checkpoint, out.resolve("checkpoints").resolve(checkpoint.getFileName()));
        try (Trainer t = new Trainer(config(engine, "run-" + engine, steps + 1).with("resume", "true"))) {
            Run r = t.run();
            return r.losses();
        }
    }

    @Test
    void checkpointsMoveBetweenEngines() throws Exception {
        try (Trainer t = new Trainer(config(engine(), "a", 2))) {
            t.run();
        }
        Path ckpt = Checkpoint.list(dir.resolve("a")).getLast();
        float[] gpuWte, cpuWte;
        try (Trainer g = new Trainer(config(engine(), "a", 2).with("resume", "true"));
             Trainer c = new Trainer(config("cpu", "a", 2).with("resume", "true"))) {
            Checkpoint.State sg = Checkpoint.load(ckpt, g.engine().slots()), sc = Checkpoint.load(ckpt, c.engine().slots());
            assertEquals(sg, sc);
            assertEquals(2, sc.adamSteps());
            gpuWte = ((GpuEngine) g.engine()).gpt().param("wte");
            cpuWte = c.engine().model().getParameters().get("wte").getArray().toFloatArray();
            for (int i = 0; i < c.engine().slots().count(); i++)
                for (int which = 0; which < 3; which++)
                    assertArrayEquals(c.engine().slots().read(i, which), g.engine().slots().read(i, which),
                            c.engine().slots().name(i) + " part " + which);
        }
        assertArrayEquals(cpuWte, gpuWte);
    }
}
