package io.rocketkv.benchmarks;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The GEMM-rate ceiling: the peak fp32 FMA rate of this machine through the Vector API, a loop of 12 independent
 * FMA chains on registers only (no memory traffic), on 1 thread and on 2 (one loop per thread). A matmul's GFLOP/s
 * ({@link CpuModelMatmulBenchmark}) is read against it: 2 FLOP per lane per FMA.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar FmaPeakBenchmark}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class FmaPeakBenchmark {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /**
     * FMAs per chain per {@link #chains} call: short, so that the method is compiled whole (a long loop entered
     * once runs on-stack-replaced code, which keeps the vectors boxed).
     */
    private static final int STEPS = 1 << 12;
    /** {@link #chains} calls per benchmark call and thread. */
    private static final int CALLS = 1 << 8;
    /** GFLOP per benchmark call and thread: 12 chains × STEPS × CALLS FMAs × lanes × 2. */
    static final double GFLOP_PER_CALL = 12.0 * STEPS * CALLS * F.length() * 2 / 1e9;

    @State(Scope.Benchmark)
    public static class Threads {
        @Param({"1", "2"})
        public int threads;

        ExecutorService pool;

        @Setup(Level.Trial)
        public void setUp() {
            pool = Executors.newFixedThreadPool(threads);
            warm(pool, threads);
            System.out.printf("%n[fma peak] %d-lane fp32 vectors, %d threads%n", F.length(), threads);
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            pool.shutdownNow();
        }
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Rate {
        /** GFLOP done; JMH reports it per second. */
        public double gflop;

        @Setup(Level.Iteration)
        public void reset() {
            gflop = 0;
        }
    }

    @Benchmark
    public float fma(Threads t, Rate rate) throws Exception {
        rate.gflop += GFLOP_PER_CALL * t.threads;
        return run(t.pool, t.threads);
    }

    private static float run(ExecutorService pool, int threads) throws Exception {
        if (threads == 1) {
            return repeat(1.0001f);
        }
        @SuppressWarnings("unchecked")
        Future<Float>[] f = new Future[threads];
        for (int i = 0; i < threads; i++) {
            float seed = 1.0001f + i;
            f[i] = pool.submit(() -> repeat(seed));
        }
        float s = 0;
        for (Future<Float> x : f) {
            s += x.get();
        }
        return s;
    }

    private static float repeat(float seed) {
        float s = 0;
        for (int i = 0; i < CALLS; i++) {
            s += chains(seed);
        }
        return s;
    }

    /** 12 independent chains a ← a · m + c, on registers; the sum defeats dead-code elimination. */
    static float chains(float seed) {
        FloatVector m = FloatVector.broadcast(F, 0.999999f);
        FloatVector c = FloatVector.broadcast(F, 1e-7f);
        FloatVector a0 = FloatVector.broadcast(F, seed), a1 = a0.add(1), a2 = a0.add(2), a3 = a0.add(3);
        FloatVector a4 = a0.add(4), a5 = a0.add(5), a6 = a0.add(6), a7 = a0.add(7);
        FloatVector a8 = a0.add(8), a9 = a0.add(9), a10 = a0.add(10), a11 = a0.add(11);
        for (int i = 0; i < STEPS; i++) {
            a0 = a0.fma(m, c);
            a1 = a1.fma(m, c);
            a2 = a2.fma(m, c);
            a3 = a3.fma(m, c);
            a4 = a4.fma(m, c);
            a5 = a5.fma(m, c);
            a6 = a6.fma(m, c);
            a7 = a7.fma(m, c);
            a8 = a8.fma(m, c);
            a9 = a9.fma(m, c);
            a10 = a10.fma(m, c);
            a11 = a11.fma(m, c);
        }
        return a0.add(a1).add(a2).add(a3).add(a4).add(a5).add(a6).add(a7).add(a8).add(a9).add(a10).add(a11)
                .reduceLanes(VectorOperators.ADD);
    }

    /** Calls {@link #chains} until the JIT has compiled it whole (before, it runs with boxed vectors). */
    private static void warm(ExecutorService pool, int threads) {
        for (int i = 0; i < 20_000; i++) {
            chains(1.0001f);
        }
        try {
            run(pool, threads);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /** GFLOP/s of the FMA loop on {@code threads} threads, the best of 5 quick passes (for the kernels' printouts). */
    static double probeGflops(int threads) {
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            warm(pool, threads);
            double best = 0;
            for (int pass = 0; pass < 5; pass++) {
                long t0 = System.nanoTime();
                run(pool, threads);
                double s = (System.nanoTime() - t0) / 1e9;
                best = Math.max(best, GFLOP_PER_CALL * threads / s);
            }
            return best;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        } finally {
            pool.shutdownNow();
        }
    }
}
