package io.rocketkv.benchmarks;

import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.NumericFormats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
 * {@link CpuKernels#matmul}: {@code out[rows, N] = x[rows, K] · w[N, K]ᵀ}, F32 activations, F32 or BF16
 * weights in native memory (as a memory-mapped checkpoint), Llama-sized projections (2048×2048 is a
 * Llama-3.2-1B attention projection, 2048→8192 its MLP up/gate). rows = 1 is a decode step (each weight
 * is used once: memory-bound), rows = 64 a prefill chunk (each weight is used 64 times: compute-bound).
 *
 * <p>Figures (JMH secondary results, per second): {@code gflop} = 2·rows·N·K / 1e9 per call and
 * {@code weightGB} = N·K·bytes(dtype) / 1e9 per call (the kernel reads each weight row once per call).
 * The weights rotate over enough copies to fill {@link MemoryBandwidth#DEFAULT_BYTES} (8× the L3), so
 * every call reads them cold from DRAM, as in a real forward pass over many layers.
 *
 * <p>The ceiling, in the same class: {@link #copyBandwidth} and {@link #readBandwidth} of a 256 MiB
 * native buffer on 1 thread and on every core. Each matmul iteration also prints its GB/s as a share of a
 * quick all-core copy probe.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar CpuMatmulBenchmark}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector"})
public class CpuMatmulBenchmark {

    /** Upper bound of the weight copies rotated through (small matrices need many to exceed the L3). */
    private static final int MAX_COPIES = 32;

    @State(Scope.Benchmark)
    public static class Matmul {
        /** Weight dtype: F32 or BF16 (F16 works too). */
        @Param({"F32", "BF16"})
        public String dtype;

        /** Weight shape "KxN": in features × out features. */
        @Param({"2048x2048", "2048x8192"})
        public String kxn;

        /** Activation rows: 1 = decode, 64 = prefill chunk. */
        @Param({"1", "64"})
        public int rows;

        /** false runs the kernel on the calling thread only. */
        @Param("true")
        public boolean parallel;

        CpuKernels kernels;
        Tensor x;         // [rows, K] F32
        Tensor out;       // [rows, N] F32
        Tensor[] weights; // copies of w [N, K] in dtype
        int next;
        double gflopPerCall;
        double weightGbPerCall;
        private Arena arena;

        @Setup(Level.Trial)
        public void setUp() {
            String[] kn = kxn.split("x");
            int k = Integer.parseInt(kn[0]);
            int n = Integer.parseInt(kn[1]);
            DType dt = DType.valueOf(dtype);
            kernels = new CpuKernels(parallel);
            SplittableRandom rnd = new SplittableRandom(42);
            x = kernels.allocate(DType.F32, rows, k);
            kernels.upload(randomFloats(rnd, rows * k, 1f), x);
            out = kernels.allocate(DType.F32, rows, n);

            long weightBytes = (long) n * k * dt.byteSize();
            int copies = (int) Math.clamp((MemoryBandwidth.DEFAULT_BYTES + weightBytes - 1) / weightBytes, 1, MAX_COPIES);
            arena = Arena.ofShared();
            MemorySegment first = arena.allocate(weightBytes, 64);
            float[] row = new float[k];
            for (int j = 0; j < n; j++) {
                fill(rnd, row, 0.05f);
                NumericFormats.encode(dt, row, 0, first, (long) j * k * dt.byteSize(), k);
            }
            weights = new Tensor[copies];
            for (int c = 0; c < copies; c++) {
                MemorySegment seg = c == 0 ? first : arena.allocate(weightBytes, 64).copyFrom(first);
                weights[c] = kernels.weight(dt, new int[] {n, k}, seg);
            }
            gflopPerCall = 2.0 * rows * n * k / 1e9;
            weightGbPerCall = weightBytes / 1e9;
            System.out.printf("%n[matmul] %s w[%d, %d] x[%d, %d], %d weight copies (%.0f MiB) rotated; %d cores; ceiling: %.1f GB/s all-core copy%n",
                    dt, n, k, rows, k, copies, copies * weightBytes / 1048576.0, MemoryBandwidth.cores(), MemoryBandwidth.probeCopyGbs());
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }
    }

    /** Per-second counters of the matmul; they also print one line per iteration with the ceiling. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class MatmulRates {
        /** GFLOP done (2·rows·N·K per call); JMH reports it per second. */
        public double gflop;
        /** Weight GB read (N·K·bytes per call); JMH reports it per second. */
        public double weightGB;
        private long start;

        @Setup(Level.Iteration)
        public void reset() {
            gflop = 0;
            weightGB = 0;
            start = System.nanoTime();
        }

        @TearDown(Level.Iteration)
        public void print() {
            double s = (System.nanoTime() - start) / 1e9;
            System.out.printf("  [%.2f GFLOP/s, %.2f GB/s weights = %s] ", gflop / s, weightGB / s, MemoryBandwidth.ofCeiling(weightGB / s));
        }
    }

    @Benchmark
    public void matmul(Matmul m, MatmulRates rates) {
        Tensor w = m.weights[m.next];
        m.next = (m.next + 1) % m.weights.length;
        m.kernels.matmul(m.x, w, null, m.out);
        rates.gflop += m.gflopPerCall;
        rates.weightGB += m.weightGbPerCall;
    }

    @State(Scope.Benchmark)
    public static class Buffers {
        /** "1" or "all" (every core, on the common fork-join pool). */
        @Param({"1", "all"})
        public String threads;

        MemoryBandwidth mb;
        int n;

        @Setup(Level.Trial)
        public void setUp() {
            n = "all".equals(threads) ? MemoryBandwidth.cores() : Integer.parseInt(threads);
            mb = new MemoryBandwidth(MemoryBandwidth.DEFAULT_BYTES);
            System.out.printf("%n[bandwidth] %d MiB native buffers, %d of %d cores%n", mb.bytes() >> 20, n, MemoryBandwidth.cores());
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            mb.close();
        }
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class CopyRate {
        /** GB moved: bytes read + bytes written (STREAM convention); JMH reports it per second. */
        public double copyGB;

        @Setup(Level.Iteration)
        public void reset() {
            copyGB = 0;
        }
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class ReadRate {
        /** GB read; JMH reports it per second. */
        public double readGB;

        @Setup(Level.Iteration)
        public void reset() {
            readGB = 0;
        }
    }

    /** The ceiling: {@code MemorySegment.copy} of 256 MiB. */
    @Benchmark
    public void copyBandwidth(Buffers b, CopyRate rate) {
        b.mb.copy(b.n);
        rate.copyGB += 2.0 * b.mb.bytes() / 1e9;
    }

    /** The read-only ceiling (what a decode matmul does with its weights): a long sum over 256 MiB. */
    @Benchmark
    public long readBandwidth(Buffers b, ReadRate rate) {
        rate.readGB += b.mb.bytes() / 1e9;
        return b.mb.read(b.n);
    }

    static float[] randomFloats(SplittableRandom rnd, int n, float scale) {
        float[] a = new float[n];
        fill(rnd, a, scale);
        return a;
    }

    static void fill(SplittableRandom rnd, float[] a, float scale) {
        for (int i = 0; i < a.length; i++) {
            a[i] = (float) (rnd.nextDouble(-1, 1) * scale);
        }
    }
}
