package hyperlab.kernel;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A cell's stdout/stderr on their way to Jupyter: batched every {@value #FLUSH_MS} ms so output
 * streams while the cell runs without one message per line, and capped at a byte budget so a
 * runaway print loop cannot flood the notebook (one notice, the rest dropped).
 */
final class OutputLimit implements AutoCloseable {

    static final long FLUSH_MS = 50;
    private static final int MAX_PENDING = 64 * 1024;

    private final long maxBytes;
    private final AtomicLong remaining;
    private final List<Batched> streams = new ArrayList<>();
    private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "output-flush");
        t.setDaemon(true);
        return t;
    });
    private volatile boolean noticed;

    OutputLimit(long maxBytes) {
        this.maxBytes = maxBytes;
        this.remaining = new AtomicLong(maxBytes);
        ticker.scheduleWithFixedDelay(this::flushAll, FLUSH_MS, FLUSH_MS, TimeUnit.MILLISECONDS);
    }

    synchronized PrintStream wrap(PrintStream target) {
        Batched b = new Batched(target);
        streams.add(b);
        return new PrintStream(b, false, StandardCharsets.UTF_8);
    }

    private synchronized void flushAll() {
        streams.forEach(Batched::flush);
    }

    /** Stops the ticker and hands on what is still pending. */
    @Override
    public void close() {
        ticker.shutdownNow();
        flushAll();
    }

    /** Collects bytes and hands them on in batches, so each batch becomes one stream message. */
    private final class Batched extends OutputStream {
        private final PrintStream target;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

        Batched(PrintStream target) {
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
                flush();
            } else if (pending.size() > MAX_PENDING) {
                flush();
            }
        }

        @Override
        public synchronized void flush() {
            if (pending.size() > 0) {
                target.write(pending.toByteArray(), 0, pending.size());
                pending.reset();
                target.flush();
            }
        }
    }
}
