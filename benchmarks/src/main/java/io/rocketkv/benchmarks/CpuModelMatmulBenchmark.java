package io.rocketkv.benchmarks;

import io.rocketkv.core.kernels.CpuKernelMode;
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
 * Every matmul of one forward step of a whole model through {@link CpuKernels#matmul}, bf16 weights in native
 * memory laid out as the checkpoint's (one copy per layer, so a decode step reads each weight once from where
 * it lies: DRAM for the 250M model, the L3 for the 4.8M demo): per layer q, k, v, o, gate, up, down on
 * {@code rows} tokens, then lm_head on one row (the engine's logit row).
 *
 * <ul>
 *   <li>{@code demo}: the bundled retrieval model (hidden 256, intermediate 512, 8 heads / 2 KV heads of 32,
 *       8 layers, vocab 1152).
 *   <li>{@code llama250m}: a 246M-parameter Llama (hidden 1024, intermediate 2816, 16 / 4 heads of 64,
 *       16 layers, vocab 32000): 426 MB of bf16 weights per decode step.
 * </ul>
 *
 * <p>Secondary results per second: {@code tokens} (rows per step), {@code gflop} (2 · multiply-adds),
 * {@code weightGB} (weight bytes read once per step). Each iteration prints them beside the ceilings:
 * the all-core copy bandwidth ({@link MemoryBandwidth}) and the FMA peak ({@link FmaPeakBenchmark}, probed
 * in-process on the same threads).
 *
 * <p>Run: {@code java -jar benchmarks/target/benchmarks.jar CpuModelMatmulBenchmark -p model=llama250m}
 */
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 3, time = 3)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules=jdk.incubator.vector", "-Xmx4g"})
public class CpuModelMatmulBenchmark {

    @State(Scope.Benchmark)
    public static class Model {
        @Param({"demo", "llama250m"})
        public String model;

        /** Tokens per step: 1 = decode, 128 and 512 = prefill chunks. */
        @Param({"1", "128", "512"})
        public int rows;

        @Param({"SIMD", "SCALAR"})
        public String kernels;

        @Param({"1", "2"})
        public int threads;

        CpuKernels k;
        Tensor[][] layers; // [layer][q, k, v, o, gate, up, down]
        Tensor lmHead;
        Tensor xh;         // [rows, hidden]
        Tensor xi;         // [rows, intermediate]
        Tensor oq;         // [rows, q dim]
        Tensor okv;        // [rows, kv dim]
        Tensor oh;         // [rows, hidden]
        Tensor oi;         // [rows, intermediate]
        Tensor x1;         // [1, hidden]
        Tensor logits;     // [1, vocab]
        double gflopPerStep;
        double gbPerStep;
        private Arena arena;

        @Setup(Level.Trial)
        public void setUp() {
            boolean demo = model.equals("demo");
            int h = demo ? 256 : 1024;
            int inter = demo ? 512 : 2816;
            int qDim = h;
            int kvDim = demo ? 2 * 32 : 4 * 64;
            int nLayers = demo ? 8 : 16;
            int vocab = demo ? 1152 : 32000;
            k = new CpuKernels(CpuKernelMode.valueOf(kernels), threads);
            arena = Arena.ofShared();
            SplittableRandom rnd = new SplittableRandom(42);
            int[][] shapes = {{qDim, h}, {kvDim, h}, {kvDim, h}, {h, qDim}, {inter, h}, {inter, h}, {h, inter}};
            layers = new Tensor[nLayers][shapes.length];
            long params = 0;
            for (int l = 0; l < nLayers; l++) {
                for (int s = 0; s < shapes.length; s++) {
                    layers[l][s] = weight(rnd, shapes[s][0], shapes[s][1]);
                    params += (long) shapes[s][0] * shapes[s][1];
                }
            }
            lmHead = weight(rnd, vocab, h);
            gflopPerStep = 2.0 * (params * rows + (long) vocab * h) / 1e9;
            gbPerStep = 2.0 * (params + (long) vocab * h) / 1e9;
            xh = act(rnd, rows, h);
            xi = act(rnd, rows, inter);
            oq = k.allocate(DType.F32, rows, qDim);
            okv = k.allocate(DType.F32, rows, kvDim);
            oh = k.allocate(DType.F32, rows, h);
            oi = k.allocate(DType.F32, rows, inter);
            x1 = act(rnd, 1, h);
            logits = k.allocate(DType.F32, 1, vocab);
            System.out.printf("%n[model matmuls] %s, %d rows, %s kernels (%s), %d threads: %.1f GFLOP and %.0f MB of bf16"
                    + " weights per step; ceilings: %.1f GB/s all-core copy, %.0f GFLOP/s FMA peak on %d threads%n",
                    model, rows, kernels, k.denseKernels(), threads, gflopPerStep, gbPerStep * 1e3,
                    MemoryBandwidth.probeCopyGbs(), FmaPeakBenchmark.probeGflops(threads), threads);
        }

        private Tensor weight(SplittableRandom rnd, int n, int kd) {
            MemorySegment seg = arena.allocate((long) n * kd * 2, 64);
            float[] row = new float[kd];
            for (int j = 0; j < n; j++) {
                CpuMatmulBenchmark.fill(rnd, row, 0.05f);
                NumericFormats.encode(DType.BF16, row, 0, seg, (long) j * kd * 2, kd);
            }
            return k.weight(DType.BF16, new int[] {n, kd}, seg);
        }

        private Tensor act(SplittableRandom rnd, int r, int c) {
            Tensor t = k.allocate(DType.F32, r, c);
            k.upload(CpuMatmulBenchmark.randomFloats(rnd, r * c, 1f), t);
            return t;
        }

        @TearDown(Level.Trial)
        public void tearDown() {
            arena.close();
        }
    }

    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class StepRates {
        /** Tokens through every matmul of the model; JMH reports them per second. */
        public double tokens;
        /** GFLOP done; per second. */
        public double gflop;
        /** Weight GB read; per second. */
        public double weightGB;
        private long start;

        @Setup(Level.Iteration)
        public void reset() {
            tokens = 0;
            gflop = 0;
            weightGB = 0;
            start = System.nanoTime();
        }

        @TearDown(Level.Iteration)
        public void print() {
            double s = (System.nanoTime() - start) / 1e9;
            System.out.printf("  [%.1f tok/s, %.1f GFLOP/s, %.2f GB/s weights = %s] ", tokens / s, gflop / s,
                    weightGB / s, MemoryBandwidth.ofCeiling(weightGB / s));
        }
    }

    @Benchmark
    public void step(Model m, StepRates rates) {
        for (Tensor[] w : m.layers) {
            m.k.matmul(m.xh, w[0], null, m.oq);
            m.k.matmul(m.xh, w[1], null, m.okv);
            m.k.matmul(m.xh, w[2], null, m.okv);
            m.k.matmul(m.xh, w[3], null, m.oh);
            m.k.matmul(m.xh, w[4], null, m.oi);
            m.k.matmul(m.xh, w[5], null, m.oi);
            m.k.matmul(m.xi, w[6], null, m.oh);
        }
        m.k.matmul(m.x1, m.lmHead, null, m.logits);
        rates.tokens += m.rows;
        rates.gflop += m.gflopPerStep;
        rates.weightGB += m.gbPerStep;
    }
}
