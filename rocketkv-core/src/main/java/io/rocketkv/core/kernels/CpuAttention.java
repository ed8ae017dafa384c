package io.rocketkv.core.kernels;

import java.util.function.IntConsumer;

/**
 * The CPU's attention over the paged cache ({@link CpuKvCache}), in two twins: {@link ScalarAttention} (the
 * reference: two-pass softmax, {@link Math#exp}, one head at a time) and
 * {@link io.rocketkv.core.kernels.simd.SimdAttention} (the Vector API: online softmax in tiles, a polynomial exp, a
 * GQA group's query heads together so each K/V row is read once per group). Which one {@link CpuKernels} runs
 * follows its {@link CpuKernelMode}, which loads the SIMD twin by name. Arrays are F32 activations laid out as in
 * {@link Kernels}; sizes come from the shapes.
 *
 * <p>Public only so that the SIMD twin, in the package that may use the Vector API, can implement it; it is the
 * CPU backend's own interface, not an extension point.
 */
public interface CpuAttention {

    /** Runs {@code body} for tasks {@code [0, tasks)}, in parallel when {@code work} (multiply-adds) pays for it. */
    @FunctionalInterface
    interface Parallel {
        void forEach(int tasks, long work, IntConsumer body);
    }

    /**
     * Causal prefill ({@link Kernels#prefillAttention}): q [T, Hq·D], the step's own k and v [T, Hkv·D] (read
     * rounded to the cache's dtype, as the cache holds them), earlier keys from {@code cache}, out [T, Hq·D].
     */
    void prefill(float[] q, float[] k, float[] v, CpuKvCache cache, StepBatch b, AttentionShape s, float[] out,
                 Parallel par);

    /** Decode over each sequence's {@code kvLens[s]} cached tokens ({@link Kernels#decodeAttention}). */
    void decode(float[] q, CpuKvCache cache, StepBatch b, AttentionShape s, float[] out, Parallel par);

    /**
     * Exact attention of every sequence's query heads over listed slots: sequence s, KV head h attends the
     * physical slots {@code slots[s][h]} (block · tokensPerBlock + offset), in that order; a null {@code slots[s]}
     * (a padding sequence) gets zero rows. q and out [S, Hq·D].
     */
    void listed(float[] q, CpuKvCache cache, int[][][] slots, AttentionShape s, float[] out, Parallel par);

    /**
     * The prefill step's work (multiply-adds: q·k and p·v over the keys each query attends) after checking it: every sequence has kvLen >= its new tokens and a
     * block table covering its earlier tokens.
     */
    static long checkPrefill(StepBatch b, AttentionShape s) {
        long work = 0;
        int p = s.tokensPerBlock();
        for (int i = 0; i < b.numSeqs(); i++) {
            int len = b.queryLen(i);
            int kvLen = b.kvLens()[i];
            if (kvLen < len) {
                throw new IllegalArgumentException("prefillAttention: sequence " + i + " has " + len
                        + " new tokens but kvLen " + kvLen + "; need kvLen >= new tokens");
            }
            int past = kvLen - len;
            if (past > 0 && (past + p - 1) / p > b.blockTables()[i].length) {
                throw new IllegalArgumentException("sequence " + i + " has " + past + " earlier tokens but its block"
                        + " table has " + b.blockTables()[i].length + " blocks of " + p);
            }
            // causal: token i of the step attends past + i + 1 keys (at most the window), each a q·k and a p·v of D
            // multiply-adds
            long keys = 0;
            for (int t = 0; t < len; t++) {
                keys += past + t + 1 - s.firstKey(past + t);
            }
            work += keys * s.numHeads() * s.headDim() * 2;
        }
        return work;
    }

    /** The decode step's work (multiply-adds) after checking that every block table covers its kvLen. */
    static long checkDecode(StepBatch b, AttentionShape s) {
        long work = 0;
        int p = s.tokensPerBlock();
        for (int i = 0; i < b.numSeqs(); i++) {
            int len = b.kvLens()[i];
            int[] table = b.blockTables()[i];
            if ((len + p - 1) / p > table.length) {
                throw new IllegalArgumentException("sequence " + i + " holds " + len + " tokens but its block table has "
                        + table.length + " blocks of " + p);
            }
            work += (long) (len - s.firstKey(len - 1)) * s.numHeads() * s.headDim() * 2;
        }
        return work;
    }

    /**
     * The physical slots a decode query of sequence {@code seq} attends, in key order: its cached keys from
     * {@link AttentionShape#firstKey} of its position on (all of them without a sliding window); none for a
     * padding sequence (kvLen 0). Blocks before the window are never looked up (they may be freed, −1).
     */
    static int[] decodeSlots(StepBatch b, int seq, AttentionShape s) {
        int len = b.kvLens()[seq];
        int first = len == 0 ? 0 : s.firstKey(len - 1);
        int[] slots = new int[len - first];
        for (int j = first; j < len; j++) {
            slots[j - first] = physical(b.blockTables()[seq], j, s.tokensPerBlock());
        }
        return slots;
    }

    /** The multiply-adds of {@link #listed} over {@code slots}. */
    static long listedWork(int[][][] slots, AttentionShape s) {
        long work = 0;
        for (int[][] seq : slots) {
            for (int kvh = 0; seq != null && kvh < s.numKvHeads(); kvh++) {
                work += (long) seq[kvh].length * s.groupSize() * s.headDim() * 2;
            }
        }
        return work;
    }

    /** Physical slot of logical slot {@code j} through {@code table}. */
    static int physical(int[] table, int j, int tokensPerBlock) {
        return table[j / tokensPerBlock] * tokensPerBlock + j % tokensPerBlock;
    }
}
