package io.rocketkv.benchmarks;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.kvcache.KtCacheManager;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKv;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
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
import org.openjdk.jmh.annotations.Warmup;

/**
 * RocketKV on the CPU with Llama-3.1-8B attention shapes (32 query heads, 8 KV heads, head_dim 128), one
 * layer, one sequence:
 * <ul>
 *   <li>{@link #stage1Selection}: stage-1 token selection ({@code RocketKv.selectPromptTokens}) for a
 *       prompt of {@code context} tokens, window 32, kernel 63, budget 2048 (once per layer after prefill);</li>
 *   <li>{@link #stage2SparseDecode}: one decode step's stage-2 page selection (page 4, topk 64, fp8 KT
 *       cache) plus exact attention over the 64 selected pages, over a cache of {@code context} slots;</li>
 *   <li>{@link #denseDecode}: dense paged decode attention over the same cache, the comparison.</li>
 * </ul>
 * Run: {@code java -jar benchmarks/target/benchmarks.jar RocketKvCpuBenchmark}.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 2)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xmx8g"})
public class RocketKvCpuBenchmark {

    private static final int H = 32;
    private static final int HKV = 8;
    private static final int D = 128;
    private static final int TPB = 32;

    @Param({"4096", "8192", "16384", "32768"})
    public int context;

    private final CpuKernels kernels = new CpuKernels();
    private final AttentionShape shape = AttentionShape.of(H, HKV, D, TPB);
    private final RocketKvParams params = RocketKvParams.builder().windowSize(32).kernelSize(63).promptBudget(2048)
            .topk(64).topr(D).pageSize(4).ktDtype(DType.F8_E5M2).build();
    private float[] qWindow;  // [H][W][D]
    private float[] keys;     // [Hkv][L][D]
    private Tensor q;         // [1, H·D]
    private Tensor cache;     // [blocks, 2, Hkv, TPB, D]
    private Tensor kt;        // [pages, 2, Hkv, D]
    private Tensor out;
    private StepPlan decode;
    private RocketKvPlan plan;

    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom r = new SplittableRandom(1);
        qWindow = gaussian(r, H * params.windowSize() * D);
        keys = gaussian(r, HKV * context * D);
        int blocks = context / TPB;
        cache = kernels.allocate(DType.F32, blocks, 2, HKV, TPB, D);
        kernels.upload(gaussian(r, blocks * 2 * HKV * TPB * D), cache);
        KtCacheManager ktm = new KtCacheManager(blocks, TPB, params.pageSize(), 1, HKV, D, 1);
        plan = new RocketKvPlan(params, ktm);
        kt = kernels.allocate(DType.F32, ktm.numPages(), 2, HKV, D);
        float[] bounds = gaussian(r, ktm.numPages() * 2 * HKV * D);
        for (int i = 0; i < bounds.length; i++) {
            bounds[i] = params.roundToKt(bounds[i]);
        }
        kernels.upload(bounds, kt);
        q = kernels.allocate(DType.F32, 1, H * D);
        kernels.upload(gaussian(r, H * D), q);
        out = kernels.allocate(DType.F32, 1, H * D);
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) {
            table[i] = i;
        }
        decode = kernels.plan(new StepBatch(false, new int[1], new int[] {context - 1}, new int[] {-1}, new int[] {0, 1},
                new int[] {context}, new int[][] {table}, new int[] {0}));
    }

    private static float[] gaussian(SplittableRandom r, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (r.nextGaussian() * 0.5);
        }
        return a;
    }

    @Benchmark
    public int[][] stage1Selection() {
        return RocketKv.selectPromptTokens(qWindow, keys, H, HKV, D, context, params.windowSize(), params.kernelSize(),
                params.promptBudget());
    }

    @Benchmark
    public Tensor stage2SparseDecode() {
        kernels.sparseDecodeAttention(q, cache, kt, decode, shape, plan, out);
        return out;
    }

    @Benchmark
    public Tensor denseDecode() {
        kernels.decodeAttention(q, cache, decode, shape, out);
        return out;
    }
}
