package hyperlab.kernel;

import java.nio.file.Files;
import java.nio.file.Path;
import org.dflib.jjava.jupyter.channels.JupyterConnection;
import org.dflib.jjava.jupyter.kernel.KernelConnectionProperties;

/** Starts the kernel on the connection file Jupyter passes as the only argument. */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 1) {
            System.err.println("usage: java hyperlab.kernel.Main CONNECTION_FILE  (Jupyter starts it via the kernelspec)");
            System.exit(2);
        }
        Path file = Path.of(args[0]);
        if (!Files.isReadable(file)) {
            System.err.println("hyperlab kernel: cannot read the connection file " + file.toAbsolutePath());
            System.exit(2);
        }
        KernelConnectionProperties props = KernelConnectionProperties.parse(Files.readString(file));
        JupyterConnection connection = new KernelConnection(props);
        HyperLabKernel kernel = HyperLabKernel.builder().build();
        kernel.becomeHandlerForConnection(connection);
        kernel.onStartup();
        connection.connect();
        connection.waitUntilClose();
        // Threads a notebook started may still run; the kernel's life ends with its connection.
        System.exit(0);
    }
}
