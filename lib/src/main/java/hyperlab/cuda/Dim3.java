package hyperlab.cuda;

/** Grid or block extents of a launch. */
public record Dim3(int x, int y, int z) {
    public Dim3 {
        if (x < 1 || y < 1 || z < 1) throw new IllegalArgumentException("launch extents must be >= 1: " + x + "," + y + "," + z);
    }

    public static Dim3 of(int x) {
        return new Dim3(x, 1, 1);
    }

    public static Dim3 of(int x, int y) {
        return new Dim3(x, y, 1);
    }

    /** Enough blocks of {@code block} threads to cover {@code n} elements. */
    public static Dim3 cover(long n, int block) {
        long blocks = (n + block - 1) / block;
        if (blocks > Integer.MAX_VALUE) throw new IllegalArgumentException("too many blocks for n=" + n);
        return of((int) Math.max(1, blocks));
    }
}
