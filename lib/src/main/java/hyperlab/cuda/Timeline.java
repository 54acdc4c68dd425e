package hyperlab.cuda;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static java.lang.foreign.ValueLayout.ADDRESS;

/**
 * Where a stretch of queued GPU work spends its time, without syncing in between: {@link #mark} records an event on
 * the stream and charges the time since the previous mark to a phase; {@link #totals} syncs once and sums each
 * phase. On the emulator, whose work is done when its call returns, the host clock stands in for events.
 */
public final class Timeline implements AutoCloseable {
    private final Gpu gpu;
    private final Arena arena = Arena.ofConfined();
    private final List<MemorySegment> events = new ArrayList<>();
    private final List<Long> hostNanos = new ArrayList<>();
    private final List<String> phases = new ArrayList<>();   // phases.get(i): the stretch from mark i to mark i + 1

    Timeline(Gpu gpu) {
        this.gpu = gpu;
        record();
    }

    /** Charges the work queued since the previous mark (or the start) to {@code phase}. */
    public void mark(String phase) {
        phases.add(phase);
        record();
    }

    private void record() {
        if (gpu.emulated()) {
            hostNanos.add(System.nanoTime());
            return;
        }
        gpu.makeCurrent();
        MemorySegment slot = arena.allocate(ADDRESS);
        gpu.drv.call("cuEventCreate", gpu.drv.eventCreate, slot, 0);
        MemorySegment e = slot.get(ADDRESS, 0);
        events.add(e);
        gpu.drv.call("cuEventRecord", gpu.drv.eventRecord, e, gpu.stream);
    }

    /** Milliseconds per phase, in the order phases first appeared (waits for the queued work). */
    public Map<String, Double> totals() {
        Map<String, Double> out = new LinkedHashMap<>();
        stretches().forEach((phase, ms) -> out.put(phase, ms.stream().mapToDouble(Double::doubleValue).sum()));
        return out;
    }

    /**
     * Each stretch's milliseconds per phase, in the order they ran (waits for the queued work): tells a phase that is
     * slow every time from one slowed by a single outlier, which the totals cannot.
     */
    public Map<String, List<Double>> stretches() {
        Map<String, List<Double>> out = new LinkedHashMap<>();
        if (!gpu.emulated()) gpu.drv.call("cuEventSynchronize", gpu.drv.eventSynchronize, events.getLast());
        for (int i = 0; i < phases.size(); i++) {
            double ms = gpu.emulated() ? (hostNanos.get(i + 1) - hostNanos.get(i)) / 1e6 : gpu.drv.elapsedMs(events.get(i), events.get(i + 1));
            out.computeIfAbsent(phases.get(i), k -> new ArrayList<>()).add(ms);
        }
        return out;
    }

    @Override
    public void close() {
        for (MemorySegment e : events) gpu.drv.call("cuEventDestroy", gpu.drv.eventDestroy, e);
        events.clear();
        arena.close();
    }
}
