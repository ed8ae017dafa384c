package io.rocketkv.benchmarks;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
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
 * {@link CpuKernels#prefillAttention} of one layer: one sequence of {@code tokens} new tokens, causal, head shape of
 * the ~250M random Llama (16 query heads, 4 KV heads, head dim 64), 32 tokens per block, the KV cache in
 * {@code kvDtype}, the scalar twin or the Vector API kernels ({@code kernels}). With {@code past > 0} the step is
 * the last chunk of a chunked prefill: {@code past} earlier tokens are read from the cache.
 *
 * <p>Figures: calls per second (ms per call = 1e3 / score). Each call does {@code 4·Hq·D·Σ keys} flops (q·k and
 * p·v, Σ keys = tokens·(tokens+1)/2 + tokens·past); the setup prints that count, so GFLOP/s = flops · score / 1e9.
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar CpuPrefillAttentionBenchmark}
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xmx4g"})
public class CpuPrefillAttentionBenchmark {

    private static final int HEADS = 16;
    private static final int KV_HEADS = 4;
    private static final int HEAD_DIM = 64;
    private static final int TOKENS_PER_BLOCK = 32;

    /** New tokens of the step. */
    @Param({"512", "2048"})
    public int tokens;

    /** Earlier tokens in the cache (a chunked prefill's last chunk). */
    @Param({"0"})
    public int past;

    /** {@code scalar} (the reference twin) or {@code simd} (Vector API). */
    @Param({"scalar", "simd"})
    public String kernels;

    /** The KV cache's element type. */
    @Param({"F32", "BF16"})
    public String kvDtype;

    private CpuKernels cpu;
    private AttentionShape shape;
    private StepPlan step;
    private Tensor q;     // [tokens, Hq·D]
    private Tensor k;     // [tokens, Hkv·D]
    private Tensor v;     // [tokens, Hkv·D]
    private Tensor out;   // [tokens, Hq·D]
    private Tensor cache; // [numBlocks, 2, Hkv, tokensPerBlock, D]

    @Setup(Level.Trial)
    public void setUp() {
        System.setProperty("rocketkv.cpu.kernels", kernels);
        DType dtype = DType.valueOf(kvDtype);
        cpu = new CpuKernels(true, dtype);
        shape = AttentionShape.of(HEADS, KV_HEADS, HEAD_DIM, TOKENS_PER_BLOCK);
        int kvLen = past + tokens;
        int blocks = (kvLen + TOKENS_PER_BLOCK - 1) / TOKENS_PER_BLOCK;
        int[] table = new int[blocks];
        for (int b = 0; b < blocks; b++) {
            table[b] = b;
        }
        int[] slots = new int[tokens];
        int[] positions = new int[tokens];
        for (int i = 0; i < tokens; i++) {
            slots[i] = past + i;
            positions[i] = past + i;
        }
        StepBatch batch = new StepBatch(true, new int[tokens], positions, slots, new int[] {0, tokens},
                new int[] {kvLen}, new int[][] {table}, new int[] {tokens - 1}, new int[] {kvLen});
        step = cpu.plan(batch);
        SplittableRandom rnd = new SplittableRandom(3);
        q = cpu.allocate(DType.F32, tokens, HEADS * HEAD_DIM);
        k = cpu.allocate(DType.F32, tokens, KV_HEADS * HEAD_DIM);
        v = cpu.allocate(DType.F32, tokens, KV_HEADS * HEAD_DIM);
        out = cpu.allocate(DType.F32, tokens, HEADS * HEAD_DIM);
        cpu.upload(CpuMatmulBenchmark.randomFloats(rnd, tokens * HEADS * HEAD_DIM, 1f), q);
        cpu.upload(CpuMatmulBenchmark.randomFloats(rnd, tokens * KV_HEADS * HEAD_DIM, 1f), k);
        cpu.upload(CpuMatmulBenchmark.randomFloats(rnd, tokens * KV_HEADS * HEAD_DIM, 1f), v);
        cache = cpu.allocate(dtype, blocks, 2, KV_HEADS, TOKENS_PER_BLOCK, HEAD_DIM);
        cpu.upload(CpuMatmulBenchmark.randomFloats(rnd, blocks * shape.blockElements(), 1f), cache);
        cpu.writeKv(k, v, step, shape, cache);
        double keys = tokens * (tokens + 1) / 2.0 + (double) tokens * past;
        System.out.printf("%n[prefillAttention %s, KV %s] Hq %d, Hkv %d, D %d, %d new tokens after %d: %.3f GFLOP"
                        + " per call; %d cores%n", kernels, dtype, HEADS, KV_HEADS, HEAD_DIM, tokens, past,
                4.0 * HEADS * HEAD_DIM * keys / 1e9, MemoryBandwidth.cores());
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        cache.close();
        System.clearProperty("rocketkv.cpu.kernels");
    }

    @Benchmark
    public void prefillAttention() {
        cpu.prefillAttention(q, k, v, cache, step, shape, out);
    }
}
