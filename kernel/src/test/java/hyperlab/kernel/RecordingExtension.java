package hyperlab.kernel;

import org.dflib.jjava.jupyter.Extension;
import org.dflib.jjava.jupyter.kernel.BaseKernel;

/** A test extension (declared in META-INF/services) that teaches the renderer a type, as a library jar would. */
public class RecordingExtension implements Extension {

    /** A type only this extension knows how to render. */
    public record Temperature(double celsius) {
    }

    @Override
    public void install(BaseKernel kernel) {
        kernel.getRenderer().createRegistration(Temperature.class)
                .register((t, ctx) -> ctx.renderIfRequested(
                        org.dflib.jjava.jupyter.kernel.display.mime.MIMEType.TEXT_PLAIN, () -> t.celsius() + " °C"));
    }
}
