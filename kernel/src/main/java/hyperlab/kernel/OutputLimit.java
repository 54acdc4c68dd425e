package hyperlab.kernel;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A per-cell budget for stdout+stderr: a runaway print loop would otherwise flood the notebook and
 * the browser. Past the budget, output is dropped after one notice. Lines are flushed as they end,
 * so output streams to the notebook while the cell runs.
 */
final class OutputLimit {

    private final long maxBytes;
    private final AtomicLong remaining;
    private volatile boolean noticed;

    OutputLimit(long maxBytes) {
        this.maxBytes = maxBytes;
        this.remaining = new AtomicLong(maxBytes);
    }

    PrintStream wrap(PrintStream target) {
        return new PrintStream(new Limited(target), true, StandardCharsets.UTF_8);
    }

    /** Collects bytes until a line ends (or a flush), then hands the whole piece on as one stream message. */
    private final class Limited extends OutputStream {
        private final PrintStream target;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        Limited(PrintStream target) {
            this.target = target;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            long before = remaining.getAndAdd(-len);
            int allowed = (int) Math.max(0, Math.min(len, before));
            pending.write(b, off, allowed);
            if (allowed < len && !noticed) {
                noticed = true;
                pending.writeBytes(("\n… output truncated: this cell printed more than " + maxBytes
                        + " bytes; the rest is dropped (the cell keeps running)\n").getBytes(StandardCharsets.UTF_8));
                forward();
            } else if (endsLine(b, off, allowed)) {
                forward();
            }
        }

        @Override
        public synchronized void flush() {
            forward();
        }

        private void forward() {
            if (pending.size() > 0) {
                target.write(pending.toByteArray(), 0, pending.size());
                pending.reset();
            }
            target.flush();
        }

        private static boolean endsLine(byte[] b, int off, int len) {
            for (int i = off; i < off + len; i++) {
                if (b[i] == '\n' || b[i] == '\r') {
                    return true;
                }
            }
            return false;
        }
    }
}
