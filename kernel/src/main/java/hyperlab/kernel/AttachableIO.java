package hyperlab.kernel;

import java.nio.charset.Charset;
import org.dflib.jjava.jupyter.channels.ShellReplyEnvironment;
import org.dflib.jjava.jupyter.kernel.JupyterIO;

/** Opens JupyterIO's per-request attach/detach to the kernel, which runs execute requests itself. */
final class AttachableIO extends JupyterIO {

    AttachableIO(Charset charset) {
        super(charset);
    }

    void attach(ShellReplyEnvironment env, boolean stdinEnabled) {
        setEnv(env);
        setJupyterInEnabled(stdinEnabled);
    }

    void detach(ShellReplyEnvironment env) {
        retractEnv(env);
    }
}
