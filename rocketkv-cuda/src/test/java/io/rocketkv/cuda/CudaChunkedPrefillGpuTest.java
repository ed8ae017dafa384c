package io.rocketkv.cuda;

import static io.rocketkv.cuda.GpuTensors.act;
import static io.rocketkv.cuda.GpuTensors.bf16Round;
import static io.rocketkv.cuda.GpuTensors.decodeDevice;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Chunked prefill on the CUDA backend against the CPU twins: prefill attention of a chunk over the keys of earlier
 * chunks (kvLen > queryLen) through the paged cache; the RocketKV window stash (a device-to-device copy of the
 * chunk's window rows) and stage 1 after the last chunk, whose prefix keys are gathered from the bf16 cache by
 * {@code rocket_prompt_keys_gather}. The CPU side gets the bf16-rounded K/V, so both caches hold the same values:
 * stashes must be equal, and the compacted caches after stage 1 equal to the CPU twin's and to a whole-prompt stage 1
 * on the GPU (which proves the key gather, whose only consumer is stage 1's selection).
 */
@RequiresCuda
class CudaChunkedPrefillGpuTest {

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

    private static float[] rows(float[] x, int from, int to, int width) {
        return Arrays.copyOfRange(x, from * width, to * width);
    }

    /** Tokens {@code [from, to)} of one sequence of {@code len} tokens over {@code table}, as one prefill step. */
    private static StepBatch chunk(int from, int to, int len, int[] table, int tpb) {
        int n = to - from;
        int[] slots = new int[n];
        int[] pos = new int[n];
        for (int j = from; j < to; j++) {
            slots[j - from] = table[j / tpb] * tpb + j % tpb;
            pos[j - from] = j;
        }
        return new StepBatch(true, new int[n], pos, slots, new int[] {0, n}, new int[] {to}, new int[][] {table},
                new int[] {n - 1}, new int[] {len});
    }

    /** A table of {@code ceil(len / tpb)} distinct blocks of {@code numBlocks}, in random order. */
    static int[] table(int len, int tpb, int numBlocks, Random rnd) {
        List<Integer> free = new ArrayList<>();
        for (int b = 0; b < numBlocks; b++) {
            free.add(b);
        }
        Collections.shuffle(free, rnd);
        int[] t = new int[(len + tpb - 1) / tpb];
        for (int i = 0; i < t.length; i++) {
            t[i] = free.get(i);
        }
        return t;
    }

    @ParameterizedTest(name = "L {0} in chunks of {1}, H {2} / Hkv {3}, D {4}")
    @CsvSource({"300, 16, 8, 2, 64, 16", "300, 33, 4, 1, 128, 32", "1000, 256, 32, 8, 128, 32",
            "97, 40, 8, 8, 32, 16"})
    void chunkedPrefillAttentionMatchesTheCpuTwin(int len, int chunk, int heads, int kvHeads, int d, int tpb) {
        checkChunkedPrefill(gpu, len, chunk, heads, kvHeads, d, tpb);
    }

    /** One prompt of {@code len} tokens prefilled in chunks on {@code gpu}, each chunk against the CPU twin. */
    static void checkChunkedPrefill(CudaKernels gpu, int len, int chunk, int heads, int kvHeads, int d, int tpb) {
        Random rnd = new Random(len * 31L + chunk);
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, tpb);
        int numBlocks = (len + tpb - 1) / tpb + 3;
        int[] table = table(len, tpb, numBlocks, rnd);
        float[] q = Gpu.gaussian(rnd, len * heads * d, 1f);
        float[] k = bf16Round(Gpu.gaussian(rnd, len * kvHeads * d, 1f));
        float[] v = bf16Round(Gpu.gaussian(rnd, len * kvHeads * d, 1f));
        int qw = heads * d;
        int kw = kvHeads * d;
        Tensor ccache = cpu.allocate(DType.F32, numBlocks, 2, kvHeads, tpb, d);
        try (Tensor cache = gpu.allocate(DType.BF16, numBlocks, 2, kvHeads, tpb, d)) {
            for (int from = 0; from < len; from += chunk) {
                int to = Math.min(len, from + chunk);
                StepBatch b = chunk(from, to, len, table, tpb);
                int n = to - from;
                Tensor cq = act(cpu, rows(q, from, to, qw), n, qw);
                Tensor ck = act(cpu, rows(k, from, to, kw), n, kw);
                Tensor cv = act(cpu, rows(v, from, to, kw), n, kw);
                Tensor cout = cpu.allocate(DType.F32, n, qw);
                cpu.writeKv(ck, cv, cpu.plan(b), shape, ccache);
                cpu.prefillAttention(cq, ck, cv, ccache, cpu.plan(b), shape, cout);
                try (Tensor gq = act(gpu, rows(q, from, to, qw), n, qw); Tensor gk = act(gpu, rows(k, from, to, kw), n, kw);
                     Tensor gv = act(gpu, rows(v, from, to, kw), n, kw); Tensor gout = gpu.allocate(DType.F32, n, qw)) {
                    var plan = gpu.plan(b);
                    gpu.writeKv(gk, gv, plan, shape, cache);
                    gpu.prefillAttention(gq, gk, gv, cache, plan, shape, gout);
                    Gpu.assertClose("chunk [" + from + ", " + to + ")", cpu.download(cout), gpu.download(gout),
                            Gpu.PREFILL_RTOL, Gpu.PREFILL_ATOL);
                }
            }
        }
    }

    @ParameterizedTest(name = "L {0} in chunks of {1}, budget {2}, W {3}")
    @CsvSource({"300, 16, 64, 32, 8, 2, 64, 16", "300, 33, 96, 32, 4, 1, 128, 32", "2000, 256, 512, 32, 32, 8, 128, 32",
            "130, 7, 40, 16, 8, 8, 32, 16"})
    void windowStashAndStage1AfterTheLastChunkMatchTheCpuAndAWholePrefill(int len, int chunk, int budget, int w,
            int heads, int kvHeads, int d, int tpb) {
        Random rnd = new Random(len * 17L + chunk);
        RocketKvParams p = new RocketKvParams(w, 7, budget, 16, d, 4, DType.BF16);
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, tpb);
        int numBlocks = (len + tpb - 1) / tpb + 3;
        int[] table = table(len, tpb, numBlocks, rnd);
        float[] q = Gpu.gaussian(rnd, len * heads * d, 1f);
        float[] k = bf16Round(Gpu.gaussian(rnd, len * kvHeads * d, 1f));
        float[] v = bf16Round(Gpu.gaussian(rnd, len * kvHeads * d, 1f));
        int qw = heads * d;
        int kw = kvHeads * d;
        Tensor ccache = cpu.allocate(DType.F32, numBlocks, 2, kvHeads, tpb, d);
        Tensor cstash = cpu.allocate(DType.F32, w, qw);
        try (Tensor cache = gpu.allocate(DType.BF16, numBlocks, 2, kvHeads, tpb, d);
             Tensor whole = gpu.allocate(DType.BF16, numBlocks, 2, kvHeads, tpb, d);
             Tensor gstash = gpu.allocate(DType.F32, w, qw)) {
            for (int from = 0; from < len; from += chunk) {
                int to = Math.min(len, from + chunk);
                StepBatch b = chunk(from, to, len, table, tpb);
                int n = to - from;
                Tensor cq = act(cpu, rows(q, from, to, qw), n, qw);
                cpu.writeKv(act(cpu, rows(k, from, to, kw), n, kw), act(cpu, rows(v, from, to, kw), n, kw), cpu.plan(b),
                        shape, ccache);
                cpu.rocketStashWindow(cq, cpu.plan(b), shape, p, cstash);
                cpu.rocketStage1(cq, cstash, cpu.plan(b), shape, p, ccache);
                try (Tensor gq = act(gpu, rows(q, from, to, qw), n, qw); Tensor gk = act(gpu, rows(k, from, to, kw), n, kw);
                     Tensor gv = act(gpu, rows(v, from, to, kw), n, kw)) {
                    var plan = gpu.plan(b);
                    gpu.writeKv(gk, gv, plan, shape, cache);
                    gpu.rocketStashWindow(gq, plan, shape, p, gstash);
                    gpu.rocketStage1(gq, gstash, plan, shape, p, cache);
                }
            }
            assertArrayEquals(cpu.download(cstash), gpu.download(gstash), "the window stash: the last W queries");
            if (len - w < (len - 1) / chunk * chunk) {
                assertArrayEquals(rows(q, len - w, len, qw), gpu.download(gstash),
                        "the stash holds rows L − W … L − 1");
            } else { // the window lies in the last chunk: stage 1 reads it from q, nothing is stashed
                assertArrayEquals(new float[w * qw], gpu.download(gstash),
                        "no stash when the last chunk holds the window");
            }
            float[] chunked = decodeDevice(cache);
            assertArrayEquals(cpu.download(ccache), chunked, "stage 1 after the last chunk = the CPU twin's");
            // the same prompt prefilled whole: stage 1 from q and the cache gives the very same cache
            StepBatch b = chunk(0, len, len, table, tpb);
            try (Tensor gq = act(gpu, q, len, qw); Tensor gk = act(gpu, k, len, kw); Tensor gv = act(gpu, v, len, kw)) {
                var plan = gpu.plan(b);
                gpu.writeKv(gk, gv, plan, shape, whole);
                gpu.rocketStage1(gq, null, plan, shape, p, whole);
            }
            assertArrayEquals(decodeDevice(whole), chunked, "chunked = whole prefill on the GPU");
        }
    }
}
