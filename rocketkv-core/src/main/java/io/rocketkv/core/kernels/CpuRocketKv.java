package io.rocketkv.core.kernels;

import io.rocketkv.core.kvcache.KtCacheManager;
import io.rocketkv.core.sparse.RocketKv;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;

/**
 * RocketKV's CPU ops (see {@link Kernels#rocketStage1}, {@link Kernels#ktBuild}, {@link Kernels#ktUpdate},
 * {@link Kernels#sparseDecodeAttention}): selection through the pure functions of {@link RocketKv}, then
 * data movement over the paged cache. Cache slot {@code i} of a sequence is physical slot
 * {@code table[i / tokensPerBlock] · tokensPerBlock + i % tokensPerBlock}.
 *
 * <p>KT tensor layout per layer: {@code [page][min|max][kv_head][head_dim]}, F32 holding values already
 * rounded to the KT dtype (rounding is monotonic, so min/max of rounded keys = rounded min/max).
 */
final class CpuRocketKv {

    private CpuRocketKv() {
    }

    private static int physical(int[] table, int logical, int tpb) {
        return table[logical / tpb] * tpb + logical % tpb;
    }

    /**
     * The sequence of the prefill step whose window queries go to the stash (a chunk of a prefill longer than the
     * budget whose window spans steps: {@link StepBatch#needsWindowStash}), or −1; the stash holds one sequence's
     * window, so two such chunks in one step are refused.
     */
    static int stashedSequence(StepBatch b, RocketKvParams p) {
        int found = -1;
        for (int s = 0; b.prefill() && s < b.numSeqs(); s++) {
            if (b.needsWindowStash(s, p.promptBudget(), p.windowSize())) {
                if (found >= 0) {
                    throw new IllegalArgumentException("sequences " + found + " and " + s + " of the step are both"
                            + " chunks of a RocketKV prefill; the window stash holds one (schedule one chunked"
                            + " prefill at a time)");
                }
                found = s;
            }
        }
        return found;
    }

    static void checkStash(Tensor stash, AttentionShape s, RocketKvParams p) {
        int[] sh = stash.shape();
        if (stash.dtype() != io.rocketkv.core.numeric.DType.F32 || sh.length != 2 || sh[0] != p.windowSize()
                || sh[1] != s.numHeads() * s.headDim()) {
            throw new IllegalArgumentException("the RocketKV window stash must be F32 [window_size = " + p.windowSize()
                    + ", Hq·D = " + s.numHeads() * s.headDim() + "], got " + Tensor.describe(stash));
        }
    }

    /**
     * Copies the window rows (positions {@code >= L − W}) of sequence {@code seq}'s chunk from q [T][Hq·D] to
     * stash [W][Hq·D], row {@code position − (L − W)}.
     */
    static void stashWindow(float[] q, StepBatch b, AttentionShape s, RocketKvParams p, int seq, float[] stash) {
        int row = s.numHeads() * s.headDim();
        int len = b.queryLen(seq);
        int past = b.kvLens()[seq] - len;
        int winStart = b.prefillLens()[seq] - p.windowSize();
        for (int i = Math.max(0, winStart - past); i < len; i++) {
            System.arraycopy(q, (b.queryStart()[seq] + i) * row, stash, (past + i - winStart) * row, row);
        }
    }

    /**
     * Stage 1 + compaction of every sequence whose prefill this step ends with more tokens than the budget: the
     * window queries from q (the window lies in the step: a whole prompt, a suffix after cached blocks) or from
     * {@code stash} [W][Hq·D] (the last chunk of a chunked prefill whose window began earlier), the keys from the
     * cache. The kept K/V go to slots {@code 0 … budget−1} of {@link StepBatch#keptTable}: in place, or into the
     * sequence's own blocks when its prompt blocks must stay intact (block reuse). One task per sequence and KV
     * head: a head's selection reads only its own group's queries and keys, and its compaction moves only its own
     * rows, so the heads of one long prompt run in parallel.
     */
    static void stage1(float[] q, float[] stash, StepBatch b, AttentionShape s, RocketKvParams p, CpuKvCache cache,
                       CpuAttention.Parallel par) {
        int hkv = s.numKvHeads();
        int budget = p.promptBudget();
        long work = 0;
        for (int seq = 0; seq < b.numSeqs(); seq++) {
            if (compacts(b, seq, budget)) {
                work += stage1Work(s, p, b.kvLens()[seq]);
            }
        }
        par.forEach(b.numSeqs() * hkv, work, task -> {
            int seq = task / hkv;
            int g = task % hkv;
            if (!compacts(b, seq, budget)) {
                return;
            }
            int len = b.kvLens()[seq];
            int[] idx = p.stage1Policy().isRocket()
                    ? rocketSelection(q, stash, cache, b, s, p, seq, len, g)
                    : RocketKv.selectPromptTokensBaseline(p.stage1Policy(), hkv, len, p.windowSize(), budget)[g];
            int[] table = b.blockTables()[seq];
            int[] into = b.keptTable(seq);
            boolean inPlace = into == table;
            int tpb = s.tokensPerBlock();
            // ascending and distinct, so idx[i] >= i: moving slot idx[i] to slot i never overwrites a slot that a
            // later i still reads (in place; other blocks overlap nothing)
            for (int i = 0; i < idx.length; i++) {
                if (idx[i] == i && inPlace) {
                    continue;
                }
                int src = physical(table, idx[i], tpb);
                int dst = physical(into, i, tpb);
                cache.copyKv(src / tpb, src % tpb, dst / tpb, dst % tpb, g);
            }
        });
    }

    /** Whether stage 1 compacts sequence {@code seq} in this step: its prefill ends here, longer than the budget. */
    private static boolean compacts(StepBatch b, int seq, int budget) {
        return b.kvLens()[seq] > budget && b.endsPrefill(seq);
    }

    /**
     * Stage 1's multiply-adds for a prompt of {@code len} tokens: the window scores {@code H·W·(L−W)·D}, their
     * softmax {@code H·W·(L−W)} (one exp and one add each, counted as one), the max-pool
     * {@code Hkv·(L−W)·kernelSize} and the copy of the kept rows {@code 2·Hkv·B·D}.
     */
    private static long stage1Work(AttentionShape s, RocketKvParams p, int len) {
        long prefix = Math.max(0, len - p.windowSize());
        long kept = 2L * s.numKvHeads() * p.promptBudget() * s.headDim();
        if (!p.stage1Policy().isRocket()) {
            return kept;
        }
        long scores = (long) s.numHeads() * p.windowSize() * prefix;
        return scores * s.headDim() + scores + s.numKvHeads() * prefix * p.kernelSize() + kept;
    }

    /**
     * RocketKV's stage-1 selection of KV head {@code g} of one sequence: its group's window queries (from the
     * step's q, or from the stash for a chunked prefill) and the head's prompt keys gathered from the cache (as
     * attention reads them: the values written, rounded to the cache's dtype).
     */
    private static int[] rocketSelection(float[] q, float[] stash, CpuKvCache cache, StepBatch b, AttentionShape s,
            RocketKvParams p, int seq, int len, int g) {
        int h = s.numHeads();
        int gs = s.groupSize();
        int d = s.headDim();
        int w = p.windowSize();
        int tpb = s.tokensPerBlock();
        boolean stashed = b.needsWindowStash(seq, p.promptBudget(), w);
        float[] src = stashed ? stash : q;
        // row of window position 0 in src: the step's rows start at position pastLen (earlier chunks, cached blocks)
        int firstRow = stashed ? 0 : b.queryStart()[seq] + len - w - b.pastLen(seq);
        float[] qWin = new float[gs * w * d];     // [G][W][D], the group's heads g·G … g·G + G − 1
        for (int head = 0; head < gs; head++) {
            for (int i = 0; i < w; i++) {
                System.arraycopy(src, ((firstRow + i) * h + g * gs + head) * d, qWin, (head * w + i) * d, d);
            }
        }
        int[] table = b.blockTables()[seq];
        float[] keys = new float[len * d];       // [L][D] of KV head g
        for (int j = 0; j < len; j++) {
            int phys = physical(table, j, tpb);
            cache.readRow(cache.block(phys / tpb), cache.kOffset(g, phys % tpb), keys, j * d);
        }
        return RocketKv.selectPromptTokens(qWin, keys, gs, 1, d, len, w, p.kernelSize(), p.promptBudget())[0];
    }

    /** Builds the KT pages over each prefilled sequence's kept slots {@code [0, min(kvLen, budget))} of its kept table. */
    static void ktBuild(CpuKvCache cache, StepBatch b, AttentionShape s, RocketKvPlan plan, float[] kt) {
        RocketKvParams p = plan.params();
        int hkv = s.numKvHeads();
        int d = s.headDim();
        int tpb = s.tokensPerBlock();
        float[] row = new float[d];
        for (int seq = 0; seq < b.numSeqs(); seq++) {
            int len = p.keptTokens(b.kvLens()[seq]);
            int[] table = b.keptTable(seq);
            for (int page = 0; page < p.numPages(len); page++) {
                int pp = plan.kt().physicalPage(table, page);
                int end = Math.min(len, (page + 1) * p.pageSize());
                for (int g = 0; g < hkv; g++) {
                    int minOff = ktOffset(pp, 0, g, hkv, d);
                    int maxOff = ktOffset(pp, 1, g, hkv, d);
                    for (int slot = page * p.pageSize(); slot < end; slot++) {
                        int phys = physical(table, slot, tpb);
                        cache.readRow(cache.block(phys / tpb), cache.kOffset(g, phys % tpb), row, 0);
                        boolean fresh = slot == page * p.pageSize();
                        for (int c = 0; c < d; c++) {
                            float v = p.roundToKt(row[c]);
                            kt[minOff + c] = fresh ? v : Math.min(kt[minOff + c], v);
                            kt[maxOff + c] = fresh ? v : Math.max(kt[maxOff + c], v);
                        }
                    }
                }
            }
        }
    }

    /** Folds each decode token's key into its KT page; a page starts fresh at its first slot. */
    static void ktUpdate(float[] k, StepBatch b, AttentionShape s, RocketKvPlan plan, float[] kt) {
        RocketKvParams p = plan.params();
        KtCacheManager m = plan.kt();
        int hkv = s.numKvHeads();
        int d = s.headDim();
        for (int t = 0; t < b.numTokens(); t++) {
            int slot = b.slotMapping()[t];
            if (slot < 0) {
                continue;
            }
            int pp = m.pageOfSlot(slot);
            boolean fresh = (slot % s.tokensPerBlock()) % p.pageSize() == 0;
            for (int g = 0; g < hkv; g++) {
                int minOff = ktOffset(pp, 0, g, hkv, d);
                int maxOff = ktOffset(pp, 1, g, hkv, d);
                for (int c = 0; c < d; c++) {
                    float v = p.roundToKt(k[(t * hkv + g) * d + c]);
                    kt[minOff + c] = fresh ? v : Math.min(kt[minOff + c], v);
                    kt[maxOff + c] = fresh ? v : Math.max(kt[maxOff + c], v);
                }
            }
        }
    }

    static int ktOffset(int page, int minOrMax, int kvHead, int hkv, int d) {
        return ((page * 2 + minOrMax) * hkv + kvHead) * d;
    }

    /**
     * Stage 2 page selection per sequence, then exact attention ({@link CpuAttention#listed}) over the selected
     * pages' existing slots; a sequence with kvLen 0 (decode padding) gets zero rows.
     */
    static void sparseDecode(float[] q, CpuKvCache cache, float[] kt, StepBatch b, AttentionShape s, RocketKvPlan plan,
                             float[] out, CpuAttention attention, CpuAttention.Parallel par) {
        RocketKvParams p = plan.params();
        int h = s.numHeads();
        int hkv = s.numKvHeads();
        int d = s.headDim();
        int tpb = s.tokensPerBlock();
        int[][][] slots = new int[b.numSeqs()][][]; // [seq][kvh][] physical slots of the selected pages
        long work = 0;
        for (int seq = 0; seq < b.numSeqs(); seq++) {
            work += (long) p.numPages(b.kvLens()[seq]) * h * d * 2;
        }
        par.forEach(b.numSeqs(), work, seq -> {
            int len = b.kvLens()[seq];
            if (len == 0) { // a padding sequence: zero rows
                return;
            }
            int[] table = b.blockTables()[seq];
            int pages = p.numPages(len);
            float[] ktMin = new float[hkv * pages * d]; // [Hkv][pages][D]
            float[] ktMax = new float[hkv * pages * d];
            for (int page = 0; page < pages; page++) {
                int pp = plan.kt().physicalPage(table, page);
                for (int kvh = 0; kvh < hkv; kvh++) {
                    System.arraycopy(kt, ktOffset(pp, 0, kvh, hkv, d), ktMin, (kvh * pages + page) * d, d);
                    System.arraycopy(kt, ktOffset(pp, 1, kvh, hkv, d), ktMax, (kvh * pages + page) * d, d);
                }
            }
            float[] qs = java.util.Arrays.copyOfRange(q, seq * h * d, (seq + 1) * h * d);
            int[][] selected = RocketKv.selectPages(qs, ktMin, ktMax, h, hkv, d, pages, p.topk(), p.topr());
            int[][] perHead = new int[hkv][];
            for (int kvh = 0; kvh < hkv; kvh++) {
                int n = 0;
                for (int page : selected[kvh]) {
                    n += Math.min(len, (page + 1) * p.pageSize()) - page * p.pageSize();
                }
                int[] sl = new int[n];
                int i = 0;
                for (int page : selected[kvh]) {
                    int end = Math.min(len, (page + 1) * p.pageSize());
                    for (int slot = page * p.pageSize(); slot < end; slot++) {
                        sl[i++] = physical(table, slot, tpb);
                    }
                }
                perHead[kvh] = sl;
            }
            slots[seq] = perHead;
        });
        attention.listed(q, cache, slots, s, out, par);
    }
}
