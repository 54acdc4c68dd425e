package hyperlab.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import hyperlab.cuda.Cuda;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TrainCommandTest {
    @TempDir Path dir;

    /** Runs {@code hyperlab ARGS} and returns exit code, stdout and stderr. */
    record Result(int code, String out, String err) {}

    Result hyperlab(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        System.setOut(new PrintStream(out, true));
        System.setErr(new PrintStream(err, true));
        try {
            int code = new CommandLine(new Main()).execute(args);
            return new Result(code, out.toString(), err.toString());
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    @Test
    void trainsFromAConfigFileAndOverridesAndSummarises() throws Exception {
        Path text = Files.writeString(dir.resolve("t.txt"), "abc abd abe abf ".repeat(300));
        Path cfg = Files.writeString(dir.resolve("c.properties"), "steps=100\ncontext=16\nbatch=2\n");
        Path out = dir.resolve("run");
        Result r = hyperlab("train", "--config", cfg.toString(), "--sample", "10", "steps=3", "paradigm=shc",
                "streams=2", "out=" + out, "data=" + text);
        assertEquals(0, r.code(), r.err());
        assertTrue(r.out().contains("paradigm         shc") && r.out().contains("steps            3"), r.out());
        assertTrue(r.out().contains("first loss") && r.out().contains("last loss") && r.out().contains("val loss"), r.out());
        List<String> lines = Files.readAllLines(out.resolve("metrics.jsonl"));
        assertEquals("{\"step\":3", lines.getLast().substring(0, 9));
        assertTrue(Files.exists(out.resolve("checkpoints").resolve("step-0000003.ckpt")));
    }

    @Test
    void badKeysExitWithTheValidOnes() {
        Result r = hyperlab("train", "stepz=3");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("unknown key 'stepz'") && r.err().contains("max_bad_steps"), r.err());
        r = hyperlab("train", "--keys");
        assertEquals(0, r.code());
        assertTrue(r.out().contains("max_bad_steps") && r.out().contains("6e-4"), r.out());
        r = hyperlab("train", "engine=tpu");
        assertEquals(2, r.code());
        assertTrue(r.err().contains("cpu, gpu or emulator"), r.err());
    }

    @Test
    void gpuEngineWithoutAGpuSaysWhatToUseInstead() throws Exception {
        Assumptions.assumeFalse(Cuda.isAvailable(), "this machine has a GPU");
        Path text = Files.writeString(dir.resolve("t.txt"), "abc abd abe abf ".repeat(300));
        Result r = hyperlab("train", "engine=gpu", "context=16", "steps=2", "out=" + dir.resolve("g"), "data=" + text);
        assertEquals(1, r.code());
        assertTrue(r.err().contains("engine=gpu needs a CUDA GPU") && r.err().contains("engine=emulator"), r.err());
    }
}
