package io.rocketkv.benchmarks;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
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
 * {@link CpuKernels#decodeAttention} of one layer over the paged cache ({@code kvDtype} F32, BF16 or F8_E4M3), Llama-3.1-8B
 * head shape (32 query heads, 8 KV heads, head dim 128), 32 tokens per block, every sequence at {@code context}
 * cached tokens, with the scalar twin or the Vector API kernels ({@code kernels}: the {@code rocketkv.cpu.kernels}
 * property). Block tables are a shuffled permutation of the pool, as after many allocations and frees.
 *
 * <p>Figures: the primary result is calls per second (µs per call = 1e6 / score); {@code kvGB} (JMH
 * secondary result, per second) counts the K and V bytes of every sequence once per call,
 * {@code 2·Hkv·D·bytes·context·batch}, the byte floor of the call. The ceiling is the all-core copy bandwidth of
 * {@link CpuMatmulBenchmark#copyBandwidth}; each iteration prints a share of a quick copy probe. Small caches
 * rotate over several copies (one per "layer") filling {@link MemoryBandwidth#DEFAULT_BYTES}, so they are not
 * served from the L3.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar CpuDecodeAttentionBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 1)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xmx6g"})
public class CpuDecodeAttentionBenchmark {

    private static final int HEADS = 32;
    private static final int KV_HEADS = 8;
    private static final int HEAD_DIM = 128;
    private static final int TOKENS_PER_BLOCK = 32;

    /** Cached tokens per sequence. */
    @Param({"1024", "4096", "16384"})
    public int context;

    /** Sequences decoded in the call. */
    @Param({"1", "4"})
    public int batch;

    /** {@code scalar} (the reference twin) or {@code simd} (Vector API). */
    @Param({"scalar", "simd"})
    public String kernels;

    /** The KV cache's element type (F8_E4M3: scale 1.0). */
    @Param({"F32", "BF16", "F8_E4M3"})
    public String kvDtype;

    private CpuKernels cpu;
    private AttentionShape shape;
    private StepPlan step;
    private Tensor q;        // [batch, Hq·D]
    private Tensor out;      // [batch, Hq·D]
    private Tensor[] caches; // copies of [numBlocks, 2, Hkv, tokensPerBlock, D]
    private int next;
    private double kvGbPerCall;

    @Setup(Level.Trial)
    public void setUp() {
        System.setProperty("rocketkv.cpu.kernels", kernels);
        DType dtype = DType.valueOf(kvDtype);
        cpu = new CpuKernels(true, dtype);
        shape = AttentionShape.of(HEADS, KV_HEADS, HEAD_DIM, TOKENS_PER_BLOCK);
        int blocksPerSeq = (context + TOKENS_PER_BLOCK - 1) / TOKENS_PER_BLOCK;
        int numBlocks = blocksPerSeq * batch;
        SplittableRandom rnd = new SplittableRandom(7);

        int[] perm = new int[numBlocks];
        for (int i = 0; i < numBlocks; i++) {
            perm[i] = i;
        }
        for (int i = numBlocks - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        int[][] tables = new int[batch][blocksPerSeq];
        int[] kvLens = new int[batch];
        int[] queryStart = new int[batch + 1];
        int[] tokenIds = new int[batch];
        int[] positions = new int[batch];
        int[] slots = new int[batch];
        int[] logitRows = new int[batch];
        for (int s = 0; s < batch; s++) {
            System.arraycopy(perm, s * blocksPerSeq, tables[s], 0, blocksPerSeq);
            kvLens[s] = context;
            queryStart[s + 1] = s + 1;
            positions[s] = context - 1;
            slots[s] = -1; // the benchmark reads the cache; writeKv is not timed
            logitRows[s] = s;
        }
        step = cpu.plan(new StepBatch(false, tokenIds, positions, slots, queryStart, kvLens, tables, logitRows));

        q = cpu.allocate(DType.F32, batch, HEADS * HEAD_DIM);
        cpu.upload(CpuMatmulBenchmark.randomFloats(rnd, batch * HEADS * HEAD_DIM, 1f), q);
        out = cpu.allocate(DType.F32, batch, HEADS * HEAD_DIM);

        long cacheFloats = (long) numBlocks * shape.blockElements();
        long cacheBytes = cacheFloats * dtype.byteSize();
        int copies = (int) Math.clamp((MemoryBandwidth.DEFAULT_BYTES + cacheBytes - 1) / cacheBytes, 1, 32);
        float[] init = CpuMatmulBenchmark.randomFloats(rnd, Math.toIntExact(cacheFloats), 1f);
        caches = new Tensor[copies];
        for (int c = 0; c < copies; c++) {
            caches[c] = cpu.allocate(dtype, numBlocks, 2, KV_HEADS, TOKENS_PER_BLOCK, HEAD_DIM);
            cpu.upload(init, caches[c]);
        }
        kvGbPerCall = 2.0 * KV_HEADS * HEAD_DIM * dtype.byteSize() * context * batch / 1e9;
        double ceiling = MemoryBandwidth.probeCopyGbs();
        System.out.printf("%n[decodeAttention %s, KV %s] Hq %d, Hkv %d, D %d, %d tokens/block, context %d, batch %d:"
                        + " %.1f MiB of KV per call, %d cache copies rotated; %d cores; ceiling: %.1f GB/s all-core"
                        + " copy, byte floor %.0f µs/call%n",
                kernels, dtype, HEADS, KV_HEADS, HEAD_DIM, TOKENS_PER_BLOCK, context, batch,
                kvGbPerCall * 1e9 / 1048576, copies, MemoryBandwidth.cores(), ceiling, 1e6 * kvGbPerCall / ceiling);
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        for (Tensor c : caches) {
            c.close();
        }
        System.clearProperty("rocketkv.cpu.kernels");
    }

    /** Per-second K/V bytes read; also prints µs per call and the ceiling once per iteration. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class KvRate {
        /** KV GB read (2·Hkv·D·4·context·batch per call); JMH reports it per second. */
        public double kvGB;
        private long calls;
        private long start;

        @Setup(Level.Iteration)
        public void reset() {
            kvGB = 0;
            calls = 0;
            start = System.nanoTime();
        }

        @TearDown(Level.Iteration)
        public void print() {
            double s = (System.nanoTime() - start) / 1e9;
            System.out.printf("  [%.0f µs/call, %.2f GB/s KV = %s] ", 1e6 * s / Math.max(calls, 1), kvGB / s,
                    MemoryBandwidth.ofCeiling(kvGB / s));
        }
    }

    @Benchmark
    public void decodeAttention(KvRate rate) {
        Tensor cache = caches[next];
        next = (next + 1) % caches.length;
        cpu.decodeAttention(q, cache, step, shape, out);
        rate.kvGB += kvGbPerCall;
        rate.calls++;
    }
}
