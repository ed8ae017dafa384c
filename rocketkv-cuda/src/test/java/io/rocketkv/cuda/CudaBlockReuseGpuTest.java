package io.rocketkv.cuda;

import static io.rocketkv.cuda.GpuTensors.act;
import static io.rocketkv.cuda.GpuTensors.bf16Round;
import static io.rocketkv.cuda.GpuTensors.decodeDevice;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.kvcache.KtCacheManager;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
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
 * Block reuse on the CUDA backend against the CPU twins, in one prefill step of two sequences: A prefills its whole
 * prompt; B shares A's first {@code C} tokens' blocks (block reuse: they are written by this very step, before any
 * attention reads them) and prefills only its suffix (kvLen > queryLen, its RocketKV window inside the step, read from
 * q at the row of position {@code L − W − pastLen}). Both compact into reserved blocks of their own
 * ({@code StepBatch.compactTables}: copy-on-evict) and build their KT pages there ({@code CudaStepPlan.keptTables}).
 * The CPU side gets the bf16-rounded K/V, so both caches hold the same values: the attention outputs within
 * attention_prefill.cu's bound, the compacted blocks and the KT pages equal to the CPU's, and the shared prompt blocks
 * untouched by stage 1.
 */
@RequiresCuda
class CudaBlockReuseGpuTest {

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

    /** The values of {@code blocks} (each {@code perBlock} elements) of a flat cache or KT array, in that order. */
    private static float[] blocks(float[] all, int[] blocks, int perBlock) {
        float[] out = new float[blocks.length * perBlock];
        for (int i = 0; i < blocks.length; i++) {
            System.arraycopy(all, blocks[i] * perBlock, out, i * perBlock, perBlock);
        }
        return out;
    }

    private static int[] take(List<Integer> free, int n) {
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = free.removeFirst();
        }
        return t;
    }

    @ParameterizedTest(name = "A {0}, B {1} sharing {2}, budget {3}, W {4}, H {5} / Hkv {6}, D {7}, tpb {8}")
    @CsvSource({"300, 313, 272, 96, 32, 8, 2, 64, 16", "300, 290, 256, 64, 32, 4, 1, 128, 32",
            "2000, 2100, 1984, 512, 32, 32, 8, 128, 32", "130, 150, 112, 40, 16, 8, 8, 32, 16"})
    void aSuffixPrefillSharingBlocksCompactsIntoItsOwnBlocksAsOnTheCpu(int lenA, int lenB, int shared, int budget,
            int w, int heads, int kvHeads, int d, int tpb) {
        Random rnd = new Random(lenA * 7L + lenB);
        RocketKvParams p = new RocketKvParams(w, 7, budget, 16, d, 4, DType.BF16);
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, tpb);
        int blocksA = (lenA + tpb - 1) / tpb;
        int blocksB = (lenB + tpb - 1) / tpb;
        int reserve = (budget + tpb - 1) / tpb;
        int numBlocks = blocksA + blocksB - shared / tpb + 2 * reserve + 3;
        List<Integer> free = new ArrayList<>();
        for (int b = 0; b < numBlocks; b++) {
            free.add(b);
        }
        Collections.shuffle(free, rnd);
        int[] tableA = take(free, blocksA);
        int[] tableB = Arrays.copyOf(tableA, blocksB);
        System.arraycopy(take(free, blocksB - shared / tpb), 0, tableB, shared / tpb, blocksB - shared / tpb);
        int[] keptA = take(free, reserve);
        int[] keptB = take(free, reserve);
        // the step: A's tokens [0, lenA), then B's [shared, lenB)
        int nA = lenA;
        int nB = lenB - shared;
        int t = nA + nB;
        int[] slots = new int[t];
        int[] pos = new int[t];
        for (int j = 0; j < nA; j++) {
            slots[j] = tableA[j / tpb] * tpb + j % tpb;
            pos[j] = j;
        }
        for (int j = shared; j < lenB; j++) {
            slots[nA + j - shared] = tableB[j / tpb] * tpb + j % tpb;
            pos[nA + j - shared] = j;
        }
        StepBatch step = new StepBatch(true, new int[t], pos, slots, new int[] {0, nA, t}, new int[] {lenA, lenB},
                new int[][] {tableA, tableB}, new int[] {nA - 1, t - 1}, new int[] {lenA, lenB},
                new int[][] {keptA, keptB});
        int qw = heads * d;
        int kw = kvHeads * d;
        float[] q = Gpu.gaussian(rnd, t * qw, 1f);
        float[] k = bf16Round(Gpu.gaussian(rnd, t * kw, 1f));
        float[] v = bf16Round(Gpu.gaussian(rnd, t * kw, 1f));
        var kt = new KtCacheManager(numBlocks, tpb, p.pageSize(), 1, kvHeads, d, 2);
        RocketKvPlan plan = new RocketKvPlan(p, kt);
        int perBlock = 2 * kvHeads * tpb * d;
        int perKtBlock = (tpb / p.pageSize()) * 2 * kvHeads * d;
        Tensor ccache = cpu.allocate(DType.F32, numBlocks, 2, kvHeads, tpb, d);
        Tensor ckt = cpu.allocate(cpu.ktCacheDtype(p), kt.numPages(), 2, kvHeads, d);
        Tensor cout = cpu.allocate(DType.F32, t, qw);
        Tensor cq = act(cpu, q, t, qw);
        Tensor ck = act(cpu, k, t, kw);
        Tensor cv = act(cpu, v, t, kw);
        var cplan = cpu.plan(step);
        cpu.writeKv(ck, cv, cplan, shape, ccache);
        cpu.prefillAttention(cq, ck, cv, ccache, cplan, shape, cout);
        float[] promptBlocksBefore = blocks(cpu.download(ccache), tableB, perBlock);
        cpu.rocketStage1(cq, null, cplan, shape, p, ccache);
        cpu.ktBuild(ccache, cplan, shape, plan, ckt);
        float[] cpuCache = cpu.download(ccache);
        try (Tensor gq = act(gpu, q, t, qw); Tensor gk = act(gpu, k, t, kw); Tensor gv = act(gpu, v, t, kw);
             Tensor cache = gpu.allocate(DType.BF16, numBlocks, 2, kvHeads, tpb, d);
             Tensor gkt = gpu.allocate(gpu.ktCacheDtype(p), kt.numPages(), 2, kvHeads, d);
             Tensor gout = gpu.allocate(DType.F32, t, qw)) {
            var gplan = gpu.plan(step);
            gpu.writeKv(gk, gv, gplan, shape, cache);
            gpu.prefillAttention(gq, gk, gv, cache, gplan, shape, gout);
            Gpu.assertClose("prefill attention, B over A's blocks", cpu.download(cout), gpu.download(gout),
                    Gpu.PREFILL_RTOL, Gpu.PREFILL_ATOL);
            gpu.rocketStage1(gq, null, gplan, shape, p, cache);
            gpu.ktBuild(cache, gplan, shape, plan, gkt);
            float[] gpuCache = decodeDevice(cache);
            assertArrayEquals(promptBlocksBefore, blocks(gpuCache, tableB, perBlock),
                    "stage 1 never writes the (shared) prompt blocks");
            assertArrayEquals(blocks(cpuCache, tableA, perBlock), blocks(gpuCache, tableA, perBlock), "A's prompt");
            assertArrayEquals(blocks(cpuCache, keptA, perBlock), blocks(gpuCache, keptA, perBlock),
                    "A's compacted cache = the CPU twin's");
            assertArrayEquals(blocks(cpuCache, keptB, perBlock), blocks(gpuCache, keptB, perBlock),
                    "B's compacted cache (window from q past the cached prefix) = the CPU twin's");
            float[] cktAll = cpu.download(ckt);
            float[] gktAll = decodeDevice(gkt);
            assertArrayEquals(blocks(cktAll, keptA, perKtBlock), blocks(gktAll, keptA, perKtBlock), "A's KT pages");
            assertArrayEquals(blocks(cktAll, keptB, perKtBlock), blocks(gktAll, keptB, perKtBlock), "B's KT pages");
        }
    }
}
