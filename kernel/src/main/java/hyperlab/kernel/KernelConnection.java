package hyperlab.kernel;

import java.lang.reflect.Field;
import org.dflib.jjava.jupyter.channels.JupyterConnection;
import org.dflib.jjava.jupyter.channels.ShellChannel;
import org.dflib.jjava.jupyter.kernel.KernelConnectionProperties;

/**
 * jjava's connection with a shorter request poll: its shell and control loops sleep a fixed 50 ms
 * between polls, which adds 25 ms on average to every request; 2 ms keeps cells snappy at a
 * negligible idle cost. Must be applied before {@link #connect()}, where the loops start.
 */
final class KernelConnection extends JupyterConnection {

    static final long POLL_MS = 2;

    KernelConnection(KernelConnectionProperties props) throws Exception {
        super(props);
        shortenPoll(shell);
        shortenPoll(control);
    }

    private static void shortenPoll(ShellChannel channel) {
        try {
            Field sleep = ShellChannel.class.getDeclaredField("sleep");
            sleep.setAccessible(true);
            sleep.setLong(channel, POLL_MS);
        } catch (ReflectiveOperationException | RuntimeException e) {
            System.err.println("hyperlab kernel: keeping jjava's 50 ms request poll (" + e + ")");
        }
    }
}
