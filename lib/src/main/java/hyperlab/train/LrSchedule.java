package hyperlab.train;

/** Linear warm-up to the peak, then cosine decay to the floor over the remaining steps (seed 003 App. G). */
public record LrSchedule(double peak, double floor, int warmup, int steps) {
    public LrSchedule {
        if (warmup < 0 || steps < 1 || warmup > steps)
            throw new IllegalArgumentException("warmup = " + warmup + ", steps = " + steps + ": need 0 ≤ warmup ≤ steps, steps ≥ 1");
    }

    public static LrSchedule of(TrainConfig c) {
        return new LrSchedule(c.lr(), c.minLr(), c.effectiveWarmup(), c.steps());
    }

    /** The learning rate of step s (0-based): peak·(s+1)/warmup while warming up, then the cosine from peak to floor. */
    public double at(int s) {
        if (s < warmup) return peak * (s + 1) / warmup;
        if (steps == warmup) return floor;
        double progress = (double) (s - warmup) / (steps - warmup);
        return floor + 0.5 * (1 + Math.cos(Math.PI * progress)) * (peak - floor);
    }
}
