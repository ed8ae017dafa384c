package io.rocketkv.cuda;

import static io.rocketkv.cuda.GpuTensors.act;
import static io.rocketkv.cuda.GpuTensors.bf16Round;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Sliding-window attention on the CUDA backend against the CPU twins ({@code AttentionShape.slidingWindow}): a
 * prompt prefilled in chunks across the window (v3 mma for head dims 64 and 128, v2 for 32, v1 for 24) and decode
 * steps of sequences shorter and longer than the window (split-KV for dims 32-128 with one and several splits,
 * naive for 24). In every step the blocks wholly before the first query's window are −1 in the block table, as the
 * engine leaves them once it gave them back: a kernel that read one would read outside the cache. Tolerances as the
 * other prefill / decode tests (bf16 K/V on both sides, the CPU twin in fp32).
 */
@RequiresCuda
class CudaSlidingWindowGpuTest {

    private static final double DECODE_RTOL = 2e-2; // as CudaKernelsGpuTest.decodeAttentionMatchesCpu
    private static final double DECODE_ATOL = 2e-3;

    private static CudaKernels gpu;
    private static final CpuKernels cpu = new CpuKernels();

    @BeforeAll
    static void open() {
        gpu = new CudaKernels();
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    /** {@code table} with the blocks wholly before key {@code firstKey} released (−1). */
    private static int[] released(int[] table, int firstKey, int tpb) {
        int[] t = table.clone();
        Arrays.fill(t, 0, Math.min(t.length, firstKey / tpb), -1);
        return t;
    }

    @ParameterizedTest(name = "L {0} in chunks of {1}, window {2}, H {3} / Hkv {4}, D {5}, tpb {6}")
    @CsvSource({"300, 64, 96, 8, 2, 64, 16", "700, 256, 96, 8, 1, 128, 16", "300, 33, 100, 4, 1, 128, 32",
            "300, 40, 96, 4, 1, 32, 16", "200, 50, 17, 8, 8, 32, 16", "150, 64, 1, 4, 2, 64, 16",
            "130, 30, 40, 4, 2, 24, 16"})
    void chunkedPrefillAcrossTheWindowMatchesTheCpuTwin(int len, int chunk, int window, int heads, int kvHeads, int d,
                                                         int tpb) {
        Random rnd = new Random(len * 31L + chunk + window);
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, tpb).withSlidingWindow(window);
        int numBlocks = (len + tpb - 1) / tpb + 3;
        int[] table = CudaChunkedPrefillGpuTest.table(len, tpb, numBlocks, rnd);
        float[] q = Gpu.gaussian(rnd, len * heads * d, 1f);
        float[] k = bf16Round(Gpu.gaussian(rnd, len * kvHeads * d, 1f));
        float[] v = bf16Round(Gpu.gaussian(rnd, len * kvHeads * d, 1f));
        int qw = heads * d;
        int kw = kvHeads * d;
        Tensor ccache = cpu.allocate(DType.F32, numBlocks, 2, kvHeads, tpb, d);
        try (Tensor cache = gpu.allocate(DType.BF16, numBlocks, 2, kvHeads, tpb, d)) {
            for (int from = 0; from < len; from += chunk) {
                int to = Math.min(len, from + chunk);
                int n = to - from;
                int[] slots = new int[n];
                int[] pos = new int[n];
                for (int j = from; j < to; j++) {
                    slots[j - from] = table[j / tpb] * tpb + j % tpb;
                    pos[j - from] = j;
                }
                StepBatch b = new StepBatch(true, new int[n], pos, slots, new int[] {0, n}, new int[] {to},
                        new int[][] {released(table, shape.firstKey(from), tpb)}, new int[] {n - 1}, new int[] {len});
                Tensor cq = act(cpu, Arrays.copyOfRange(q, from * qw, to * qw), n, qw);
                Tensor ck = act(cpu, Arrays.copyOfRange(k, from * kw, to * kw), n, kw);
                Tensor cv = act(cpu, Arrays.copyOfRange(v, from * kw, to * kw), n, kw);
                Tensor cout = cpu.allocate(DType.F32, n, qw);
                cpu.writeKv(ck, cv, cpu.plan(b), shape, ccache);
                cpu.prefillAttention(cq, ck, cv, ccache, cpu.plan(b), shape, cout);
                try (Tensor gq = act(gpu, Arrays.copyOfRange(q, from * qw, to * qw), n, qw);
                     Tensor gk = act(gpu, Arrays.copyOfRange(k, from * kw, to * kw), n, kw);
                     Tensor gv = act(gpu, Arrays.copyOfRange(v, from * kw, to * kw), n, kw);
                     Tensor gout = gpu.allocate(DType.F32, n, qw)) {
                    var plan = gpu.plan(b);
                    gpu.writeKv(gk, gv, plan, shape, cache);
                    gpu.prefillAttention(gq, gk, gv, cache, plan, shape, gout);
                    Gpu.assertClose("window " + window + " chunk [" + from + ", " + to + ")", cpu.download(cout),
                            gpu.download(gout), Gpu.PREFILL_RTOL, Gpu.PREFILL_ATOL);
                }
            }
        }
    }

    @ParameterizedTest(name = "window {0}, H {1} / Hkv {2}, D {3}, tpb {4}")
    @CsvSource({"96, 8, 2, 64, 16", "96, 32, 8, 128, 16", "1000, 8, 1, 128, 32", "5, 4, 1, 32, 16",
            "300, 4, 4, 24, 16", "1, 8, 2, 64, 16"})
    void decodeWithinTheWindowMatchesTheCpuTwin(int window, int heads, int kvHeads, int d, int tpb) {
        Random rnd = new Random(window * 7L + d);
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, tpb).withSlidingWindow(window);
        int[] lens = {1, 50, 96, 97, 300, 0, 5000}; // 0: a padding sequence; 5000: several splits
        int total = 0;
        for (int len : lens) {
            total += (len + tpb - 1) / tpb;
        }
        int numBlocks = total + 3;
        int[] pool = CudaChunkedPrefillGpuTest.table(total * tpb, tpb, numBlocks, rnd); // shuffled, sliced below
        int next = 0;
        int s = lens.length;
        int[][] tables = new int[s][];
        int[] slots = new int[s];
        int[] qs = new int[s + 1];
        int kw = kvHeads * d;
        Tensor ccache = cpu.allocate(DType.F32, numBlocks, 2, kvHeads, tpb, d);
        try (Tensor cache = gpu.allocate(DType.BF16, numBlocks, 2, kvHeads, tpb, d)) {
            for (int i = 0; i < s; i++) {
                int len = lens[i];
                int[] t = new int[(len + tpb - 1) / tpb];
                for (int b = 0; b < t.length; b++) {
                    t[b] = pool[next++];
                }
                qs[i + 1] = i + 1;
                slots[i] = len == 0 ? -1 : t[(len - 1) / tpb] * tpb + (len - 1) % tpb;
                tables[i] = len == 0 ? new int[] {-1} : released(t, shape.firstKey(len - 1), tpb);
                if (len == 0) {
                    continue;
                }
                // every key of the sequence into both caches (a prefill step's write, its table whole)
                int[] ws = new int[len];
                for (int j = 0; j < len; j++) {
                    ws[j] = t[j / tpb] * tpb + j % tpb;
                }
                StepBatch fill = new StepBatch(true, new int[len], new int[len], ws, new int[] {0, len},
                        new int[] {len}, new int[][] {t}, new int[] {len - 1});
                float[] k = bf16Round(Gpu.gaussian(rnd, len * kw, 1f));
                float[] v = bf16Round(Gpu.gaussian(rnd, len * kw, 1f));
                cpu.writeKv(act(cpu, k, len, kw), act(cpu, v, len, kw), cpu.plan(fill), shape, ccache);
                try (Tensor gk = act(gpu, k, len, kw); Tensor gv = act(gpu, v, len, kw)) {
                    gpu.writeKv(gk, gv, gpu.plan(fill), shape, cache);
                }
            }
            StepBatch decode = new StepBatch(false, new int[s], new int[s], slots, qs, lens, tables,
                    Arrays.copyOf(qs, s));
            float[] q = Gpu.gaussian(rnd, s * heads * d, 2f);
            Tensor co = cpu.allocate(DType.F32, s, heads * d);
            cpu.decodeAttention(act(cpu, q, s, heads * d), ccache, cpu.plan(decode), shape, co);
            try (Tensor gq = act(gpu, q, s, heads * d); Tensor go = gpu.allocate(DType.F32, s, heads * d)) {
                gpu.decodeAttention(gq, cache, gpu.plan(decode), shape, go);
                Gpu.assertClose("decode, window " + window, cpu.download(co), gpu.download(go), DECODE_RTOL,
                        DECODE_ATOL);
            }
        }
    }

    @Test
    void theHopperPrefillKernelsAreRefusedForAWindowedLayer() {
        String before = System.getProperty(PrefillKernel.PROPERTY);
        System.setProperty(PrefillKernel.PROPERTY, PrefillKernel.WGMMA.key());
        CudaKernels hopper;
        try {
            hopper = new CudaKernels();
        } catch (IllegalArgumentException e) {
            assumeTrue(!e.getMessage().contains("needs sm_90a code"), e.getMessage());
            throw e;
        } finally {
            if (before == null) {
                System.clearProperty(PrefillKernel.PROPERTY);
            } else {
                System.setProperty(PrefillKernel.PROPERTY, before);
            }
        }
        try (hopper) {
            AttentionShape shape = AttentionShape.of(8, 2, 64, 16).withSlidingWindow(96);
            StepBatch b = new StepBatch(true, new int[4], new int[] {0, 1, 2, 3}, new int[] {0, 1, 2, 3},
                    new int[] {0, 4}, new int[] {4}, new int[][] {{0}}, new int[] {3});
            try (Tensor q = hopper.allocate(DType.F32, 4, 8 * 64); Tensor k = hopper.allocate(DType.F32, 4, 2 * 64);
                 Tensor cache = hopper.allocate(DType.BF16, 1, 2, 2, 16, 64);
                 Tensor out = hopper.allocate(DType.F32, 4, 8 * 64)) {
                var plan = hopper.plan(b);
                String m = assertThrows(IllegalArgumentException.class,
                        () -> hopper.prefillAttention(q, k, k, cache, plan, shape, out)).getMessage();
                assertTrue(m.contains("sliding_window of 96") && m.contains("auto or mma"), m);
            }
        }
    }
}
