package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kvcache.KtCacheManager;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * RocketKV stage 1 with block reuse on the CPU, one prefill step of two sequences: A prefills its whole prompt, B
 * shares A's first {@code C} tokens' blocks and prefills only its suffix (its window read from q past the cached
 * prefix). Both compact into reserved blocks ({@code StepBatch.compactTables}). Each must equal the same prompt
 * prefilled whole and compacted in place in a cache of its own: attention rows, compacted K/V and KT pages; and the
 * shared prompt blocks stay as the prefill wrote them.
 */
class CpuCopyOnEvictTest {

    private final CpuKernels cpu = new CpuKernels();

    private Tensor act(float[] data, int... shape) {
        Tensor t = cpu.allocate(DType.F32, shape);
        cpu.upload(data, t);
        return t;
    }

    private static float[] gaussian(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) r.nextGaussian();
        }
        return x;
    }

    /** Slots [0, n) of a sequence over {@code table}: [Hkv][n][D] of K then of V. */
    private static float[] logical(float[] cache, int[] table, int n, AttentionShape s) {
        int tpb = s.tokensPerBlock();
        int d = s.headDim();
        float[] out = new float[2 * s.numKvHeads() * n * d];
        int o = 0;
        for (int kv = 0; kv < 2; kv++) {
            for (int g = 0; g < s.numKvHeads(); g++) {
                for (int i = 0; i < n; i++) {
                    int b = table[i / tpb];
                    int off = kv == 0 ? CpuKernels.kOffset(b, g, i % tpb, s) : CpuKernels.vOffset(b, g, i % tpb, s);
                    System.arraycopy(cache, off, out, o, d);
                    o += d;
                }
            }
        }
        return out;
    }

    private static float[] ktPages(float[] kt, int[] table, RocketKvParams p, int hkv, int d, int tpb, int n) {
        int perPage = 2 * hkv * d;
        int pagesPerBlock = tpb / p.pageSize();
        float[] out = new float[p.numPages(n) * perPage];
        for (int page = 0; page < p.numPages(n); page++) {
            int pp = table[page / pagesPerBlock] * pagesPerBlock + page % pagesPerBlock;
            System.arraycopy(kt, pp * perPage, out, page * perPage, perPage);
        }
        return out;
    }

    /** One sequence's rows of q, k or v ([from, to) of a step laid out sequence after sequence). */
    private static float[] rows(float[] x, int from, int to, int width) {
        return Arrays.copyOfRange(x, from * width, to * width);
    }

    @ParameterizedTest(name = "A {0}, B {1} sharing {2}, budget {3}, W {4}, H {5} / Hkv {6}, D {7}, tpb {8}")
    @CsvSource({"300, 313, 272, 96, 32, 8, 2, 16, 16", "130, 150, 112, 40, 16, 4, 4, 8, 16",
            "70, 66, 32, 24, 8, 4, 1, 8, 8"})
    void eachSequenceCompactsIntoItsOwnBlocksAsAWholeInPlacePrefillDoes(int lenA, int lenB, int shared, int budget,
            int w, int heads, int kvHeads, int d, int tpb) {
        Random rnd = new Random(lenA + 31L * lenB);
        RocketKvParams p = RocketKvParams.builder().windowSize(w).kernelSize(7).promptBudget(budget).topk(4).topr(d)
                .pageSize(4).ktDtype(DType.BF16).build();
        AttentionShape shape = AttentionShape.of(heads, kvHeads, d, tpb);
        int blocksA = (lenA + tpb - 1) / tpb;
        int blocksB = (lenB + tpb - 1) / tpb;
        int reserve = (budget + tpb - 1) / tpb;
        int numBlocks = blocksA + blocksB + 2 * reserve;
        int[] tableA = new int[blocksA];
        int[] tableB = new int[blocksB];
        for (int i = 0; i < blocksA; i++) {
            tableA[i] = blocksA - 1 - i; // reversed: logical and physical order differ
        }
        System.arraycopy(tableA, 0, tableB, 0, shared / tpb);
        for (int i = shared / tpb; i < blocksB; i++) {
            tableB[i] = blocksA + i - shared / tpb;
        }
        int next = blocksA + blocksB - shared / tpb;
        int[] keptA = new int[reserve];
        int[] keptB = new int[reserve];
        for (int i = 0; i < reserve; i++) {
            keptA[i] = next + i;
            keptB[i] = next + reserve + i;
        }
        int qw = heads * d;
        int kw = kvHeads * d;
        // token rows of the two prompts: B's first `shared` tokens are A's (same K/V), the rest its own
        float[] qA = gaussian(rnd, lenA * qw);
        float[] kA = gaussian(rnd, lenA * kw);
        float[] vA = gaussian(rnd, lenA * kw);
        float[] qB = gaussian(rnd, lenB * qw);
        float[] kB = gaussian(rnd, lenB * kw);
        float[] vB = gaussian(rnd, lenB * kw);
        System.arraycopy(kA, 0, kB, 0, shared * kw);
        System.arraycopy(vA, 0, vB, 0, shared * kw);
        int nB = lenB - shared;
        int t = lenA + nB;
        int[] slots = new int[t];
        int[] pos = new int[t];
        for (int j = 0; j < lenA; j++) {
            slots[j] = tableA[j / tpb] * tpb + j % tpb;
            pos[j] = j;
        }
        for (int j = shared; j < lenB; j++) {
            slots[lenA + j - shared] = tableB[j / tpb] * tpb + j % tpb;
            pos[lenA + j - shared] = j;
        }
        StepBatch step = new StepBatch(true, new int[t], pos, slots, new int[] {0, lenA, t}, new int[] {lenA, lenB},
                new int[][] {tableA, tableB}, new int[] {lenA - 1, t - 1}, new int[] {lenA, lenB},
                new int[][] {keptA, keptB});
        assertTrue(!step.needsWindowStash(1, budget, w), "B's window lies in the step");
        float[] q = concat(qA, rows(qB, shared, lenB, qw));
        float[] k = concat(kA, rows(kB, shared, lenB, kw));
        float[] v = concat(vA, rows(vB, shared, lenB, kw));
        var kt = new KtCacheManager(numBlocks, tpb, p.pageSize(), 1, kvHeads, d, 2);
        RocketKvPlan plan = new RocketKvPlan(p, kt);
        Tensor cache = cpu.allocate(DType.F32, numBlocks, 2, kvHeads, tpb, d);
        Tensor ktT = cpu.allocate(cpu.ktCacheDtype(p), kt.numPages(), 2, kvHeads, d);
        Tensor out = cpu.allocate(DType.F32, t, qw);
        Tensor tq = act(q, t, qw);
        Tensor tk = act(k, t, kw);
        Tensor tv = act(v, t, kw);
        var sp = cpu.plan(step);
        cpu.writeKv(tk, tv, sp, shape, cache);
        cpu.prefillAttention(tq, tk, tv, cache, sp, shape, out);
        float[] promptB = logical(cpu.download(cache), tableB, lenB, shape);
        cpu.rocketStage1(tq, null, sp, shape, p, cache);
        cpu.ktBuild(cache, sp, shape, plan, ktT);
        float[] after = cpu.download(cache);
        assertArrayEquals(promptB, logical(after, tableB, lenB, shape), "stage 1 leaves the shared prompt blocks alone");
        float[] attn = cpu.download(out);
        float[] kts = cpu.download(ktT);

        float[][] qs = {qA, qB};
        float[][] ks = {kA, kB};
        float[][] vs = {vA, vB};
        int[] lens = {lenA, lenB};
        int[][] kept = {keptA, keptB};
        int[] firstRow = {0, lenA};
        int[] from = {0, shared};
        for (int s = 0; s < 2; s++) {
            // the same prompt alone, whole, compacted in place in a fresh cache
            int len = lens[s];
            int[] own = new int[(len + tpb - 1) / tpb];
            for (int i = 0; i < own.length; i++) {
                own[i] = i;
            }
            int[] ownSlots = new int[len];
            int[] ownPos = new int[len];
            for (int j = 0; j < len; j++) {
                ownSlots[j] = j;
                ownPos[j] = j;
            }
            StepBatch whole = new StepBatch(true, new int[len], ownPos, ownSlots, new int[] {0, len}, new int[] {len},
                    new int[][] {own}, new int[] {len - 1});
            Tensor c2 = cpu.allocate(DType.F32, own.length, 2, kvHeads, tpb, d);
            var kt2 = new KtCacheManager(own.length, tpb, p.pageSize(), 1, kvHeads, d, 2);
            Tensor kt2T = cpu.allocate(cpu.ktCacheDtype(p), kt2.numPages(), 2, kvHeads, d);
            Tensor o2 = cpu.allocate(DType.F32, len, qw);
            Tensor q2 = act(qs[s], len, qw);
            Tensor k2 = act(ks[s], len, kw);
            Tensor v2 = act(vs[s], len, kw);
            var wp = cpu.plan(whole);
            cpu.writeKv(k2, v2, wp, shape, c2);
            cpu.prefillAttention(q2, k2, v2, c2, wp, shape, o2);
            cpu.rocketStage1(q2, null, wp, shape, p, c2);
            cpu.ktBuild(c2, wp, shape, new RocketKvPlan(p, kt2), kt2T);
            String who = s == 0 ? "A" : "B";
            assertArrayEquals(rows(cpu.download(o2), from[s], len, qw),
                    rows(attn, firstRow[s], firstRow[s] + len - from[s], qw), who + ": attention rows");
            assertArrayEquals(logical(cpu.download(c2), own, budget, shape), logical(after, kept[s], budget, shape),
                    who + ": the compacted cache in its own blocks = in place");
            assertArrayEquals(ktPages(cpu.download(kt2T), own, p, kvHeads, d, tpb, budget),
                    ktPages(kts, kept[s], p, kvHeads, d, tpb, budget), who + ": KT pages over the kept table");
        }
    }

    @ParameterizedTest(name = "compact into block {0}")
    @CsvSource({"0", "1"})
    void aCompactTableNamingAPromptBlockIsRefused(int block) {
        assertThrows(IllegalArgumentException.class, () -> new StepBatch(true, new int[2], new int[] {0, 1},
                new int[] {0, 1}, new int[] {0, 2}, new int[] {2}, new int[][] {{0, 1}}, new int[] {1}, new int[] {2},
                new int[][] {{block}}));
    }

    private static float[] concat(float[] a, float[] b) {
        float[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }
}
