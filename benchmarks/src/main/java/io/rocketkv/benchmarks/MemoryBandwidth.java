package io.rocketkv.benchmarks;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * The memory-bandwidth ceiling that memory-bound CPU kernels are measured against: copy and read of
 * native buffers far larger than the last-level cache, on one thread or on every core (split into equal
 * chunks on the common fork-join pool, the pool {@code CpuKernels} uses).
 *
 * <p>Copy GB/s counts bytes read plus bytes written (the STREAM convention), so a copy of B bytes in t
 * seconds is {@code 2·B / t}. Read GB/s counts bytes read once.
 */
final class MemoryBandwidth implements AutoCloseable {

    /** 256 MiB: eight times the 32 MiB L3 of the reference machine, so every pass goes to DRAM. */
    static final long DEFAULT_BYTES = 256L << 20;

    private static volatile double probedCopyGbs;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment src; // [bytes]
    private final MemorySegment dst; // [bytes]

    MemoryBandwidth(long bytes) {
        if (bytes % (8L * 64) != 0) {
            throw new IllegalArgumentException("bytes must be a multiple of 512, got " + bytes);
        }
        src = arena.allocate(bytes, 64);
        dst = arena.allocate(bytes, 64);
        for (long i = 0; i < bytes; i += 8) {
            src.set(ValueLayout.JAVA_LONG, i, i * 0x9E3779B97F4A7C15L);
        }
        dst.fill((byte) 1); // touch every page before timing
    }

    long bytes() {
        return src.byteSize();
    }

    /** Copies the source buffer into the destination in {@code threads} equal chunks. */
    void copy(int threads) {
        long chunk = chunk(threads);
        if (threads == 1) {
            MemorySegment.copy(src, 0, dst, 0, src.byteSize());
            return;
        }
        IntStream.range(0, threads).parallel().forEach(t -> MemorySegment.copy(src, t * chunk, dst, t * chunk, chunk));
    }

    /** Sums the source buffer as longs in {@code threads} equal chunks (the result defeats dead-code elimination). */
    long read(int threads) {
        long chunk = chunk(threads);
        if (threads == 1) {
            return sum(src, 0, chunk);
        }
        return IntStream.range(0, threads).parallel().mapToLong(t -> sum(src, t * chunk, chunk)).sum();
    }

    private long chunk(int threads) {
        if (threads < 1 || src.byteSize() % (64L * threads) != 0) {
            throw new IllegalArgumentException("threads must divide the buffer into 64-byte aligned chunks, got " + threads);
        }
        return src.byteSize() / threads;
    }

    private static long sum(MemorySegment s, long from, long length) {
        long s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        long end = from + length;
        for (long i = from; i < end; i += 32) {
            s0 += s.get(ValueLayout.JAVA_LONG, i);
            s1 += s.get(ValueLayout.JAVA_LONG, i + 8);
            s2 += s.get(ValueLayout.JAVA_LONG, i + 16);
            s3 += s.get(ValueLayout.JAVA_LONG, i + 24);
        }
        return (s0 + s1) + (s2 + s3);
    }

    @Override
    public void close() {
        arena.close();
    }

    /**
     * All-core copy GB/s, the median of 9 passes over {@link #DEFAULT_BYTES}, measured once per JVM (the
     * median, not the best, because single passes on a shared machine are sometimes far off either way).
     * The kernel benchmarks print it beside their own figure; {@link CpuMatmulBenchmark#copyBandwidth} is the
     * properly measured (JMH) version of the same number.
     */
    static double probeCopyGbs() {
        double cached = probedCopyGbs;
        if (cached > 0) {
            return cached;
        }
        synchronized (MemoryBandwidth.class) {
            if (probedCopyGbs > 0) {
                return probedCopyGbs;
            }
            int threads = cores();
            try (MemoryBandwidth mb = new MemoryBandwidth(DEFAULT_BYTES)) {
                double[] gbs = new double[9];
                for (int pass = 0; pass < gbs.length; pass++) {
                    long t0 = System.nanoTime();
                    mb.copy(threads);
                    long ns = System.nanoTime() - t0;
                    gbs[pass] = 2.0 * mb.bytes() / ns;
                }
                Arrays.sort(gbs);
                probedCopyGbs = gbs[gbs.length / 2];
            }
            return probedCopyGbs;
        }
    }

    static int cores() {
        return Runtime.getRuntime().availableProcessors();
    }

    /** "41% of the 20.1 GB/s all-core copy ceiling (2 cores)". */
    static String ofCeiling(double gbs) {
        double ceiling = probeCopyGbs();
        return String.format("%.0f%% of the %.1f GB/s all-core copy ceiling (%d cores)", 100 * gbs / ceiling, ceiling, cores());
    }
}
