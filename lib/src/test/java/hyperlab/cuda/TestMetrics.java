package hyperlab.cuda;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Locale;

/** Measured accuracies from GPU tests: printed, and appended as JSON lines to -Dhyperlab.cuda.metrics for the device report. */
public final class TestMetrics {
    private TestMetrics() {
    }

    public static void record(String name, double value) {
        String line = String.format(Locale.ROOT, "{\"name\":\"%s\",\"value\":%.6g}", name, value);
        System.out.println("metric " + line);
        String file = System.getProperty("hyperlab.cuda.metrics");
        if (file == null) return;
        try {
            Files.writeString(Path.of(file), line + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    /** ‖got − want‖₂ / ‖want‖₂ in float64. */
    public static double relError(float[] got, double[] want) {
        double num = 0, den = 0;
        for (int i = 0; i < want.length; i++) {
            double d = got[i] - want[i];
            num += d * d;
            den += want[i] * want[i];
        }
        return Math.sqrt(num / den);
    }
}
