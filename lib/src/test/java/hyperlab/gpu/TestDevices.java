package hyperlab.gpu;

import hyperlab.cuda.Cuda;
import hyperlab.cuda.Gpu;

import java.util.Optional;

/** Where engine tests run: the GPU when there is one, else the CPU emulator (CI), else nowhere (skipped with the reason). */
final class TestDevices {
    private TestDevices() {
    }

    static Optional<Gpu> gpuOrEmulator() {
        if (Cuda.isAvailable()) return Optional.of(Cuda.gpu());
        if (Cuda.emulatorUnavailableReason().isEmpty()) return Optional.of(Cuda.emulator());
        return Optional.empty();
    }

    /** Whether DJL's PyTorch CPU engine loads here (not on the GPU machine, whose bundle leaves its natives out). */
    static boolean cpuEngineAvailable() {
        try {
            return ai.djl.engine.Engine.hasEngine("PyTorch") && ai.djl.engine.Engine.getEngine("PyTorch") != null;
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    static String why() {
        return "skipped: no GPU (" + Cuda.unavailableReason().orElse("") + ") and no emulator ("
                + Cuda.emulatorUnavailableReason().orElse("") + ")";
    }
}
