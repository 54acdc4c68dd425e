package hyperlab.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.dflib.jjava.jupyter.kernel.display.mime.MIMEType;
import org.junit.jupiter.api.Test;

class ExtensionsTest {

    @Test
    void extensionsOnTheClassPathRegisterRenderersAtStartup() {
        HyperLabKernel kernel = HyperLabKernel.builder().build();
        try {
            kernel.onStartup();
            Object text = kernel.getRenderer().render(new RecordingExtension.Temperature(21.5)).getData(MIMEType.TEXT_PLAIN);
            assertEquals("21.5 °C", text);
        } finally {
            kernel.onShutdown(false);
        }
    }
}
