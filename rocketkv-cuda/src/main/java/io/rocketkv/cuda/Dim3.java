package io.rocketkv.cuda;

/** A grid or block shape; every extent at least 1. */
public record Dim3(int x, int y, int z) {

    public Dim3 {
        if (x < 1 || y < 1 || z < 1) {
            throw new IllegalArgumentException("grid and block extents must be >= 1, got (" + x + ", " + y + ", " + z + ")");
        }
    }

    public static Dim3 of(int x) {
        return new Dim3(x, 1, 1);
    }

    public static Dim3 of(int x, int y) {
        return new Dim3(x, y, 1);
    }

    /** Blocks of {@code blockSize} needed to cover {@code n} items, at least 1, at most 2^31 - 1. */
    public static int blocksFor(long n, int blockSize) {
        return (int) Math.max(1, Math.min(Integer.MAX_VALUE, (n + blockSize - 1) / blockSize));
    }

    public long volume() {
        return (long) x * y * z;
    }
}
