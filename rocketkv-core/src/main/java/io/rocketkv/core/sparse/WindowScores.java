package io.rocketkv.core.sparse;

import java.util.Arrays;

/**
 * Stage 1 scores of one KV group: for every prefix key j, the sum over the group's G query heads and W window
 * queries of {@code softmax_j(q_win[h,i] · K_pre[g,j] / sqrt(D))}, then max-pooled along j.
 *
 * <p>One instance is the workspace for all KV heads of one call. The prefix keys of a KV head are transposed once
 * to (D, n) rows so that the score of a query against every key is a sum of axpys over the key rows (vectorised,
 * see {@link ScoreKernels}); queries go in blocks of 16 over tiles of 1024 keys, so a (D, 1024) fp32 tile (512 KiB
 * at D = 128) stays in L2 while the block uses it. Cost per KV head: G·W·n·D multiply-adds and G·W·n exponentials.
 */
final class WindowScores {

    private static final int QUERY_BLOCK = 16;
    private static final int KEY_TILE = 1024;
    private static final int TRANSPOSE_BLOCK = 16;

    private final int groupSize;
    private final int headDim;
    private final int promptLen;
    private final int windowSize;
    private final int prefix;          // n = L − W
    private final float scale;         // (float) (1 / sqrt(D))
    private final float[][] keysT;     // (D, n) prefix keys of one KV head, transposed
    private final float[][] logits;    // (16, n) scores of one block of window queries
    private final float[] score;       // (n) summed probabilities
    private final int[] deque;         // (n) max-pool workspace

    WindowScores(int groupSize, int headDim, int promptLen, int windowSize) {
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.promptLen = promptLen;
        this.windowSize = windowSize;
        this.prefix = promptLen - windowSize;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.keysT = new float[headDim][prefix];
        this.logits = new float[Math.min(QUERY_BLOCK, groupSize * windowSize)][prefix];
        this.score = new float[prefix];
        this.deque = new int[prefix];
    }

    /**
     * Writes the pooled scores of KV head g, (n), into {@code pooled}.
     *
     * @param qWindow (H, W, D) window queries
     * @param keys    (Hkv, L, D) prompt keys
     */
    void pooled(float[] qWindow, float[] keys, int g, int kernelSize, float[] pooled) {
        int n = prefix;
        int keyBase = g * promptLen * headDim;
        for (int j0 = 0; j0 < n; j0 += TRANSPOSE_BLOCK) {      // blocked: each d row gets 64 contiguous bytes
            int j1 = Math.min(n, j0 + TRANSPOSE_BLOCK);
            for (int d = 0; d < headDim; d++) {
                float[] dst = keysT[d];
                for (int j = j0, src = keyBase + j0 * headDim + d; j < j1; j++, src += headDim) {
                    dst[j] = keys[src];
                }
            }
        }
        Arrays.fill(score, 0f);
        int rows = groupSize * windowSize;             // the group's (G·W) query rows, contiguous in qWindow
        int queryBase = g * rows * headDim;
        for (int r0 = 0; r0 < rows; r0 += QUERY_BLOCK) {
            int block = Math.min(QUERY_BLOCK, rows - r0);
            for (int r = 0; r < block; r++) {
                Arrays.fill(logits[r], 0f);
            }
            for (int j0 = 0; j0 < n; j0 += KEY_TILE) {
                int j1 = Math.min(n, j0 + KEY_TILE);
                for (int r = 0; r < block; r++) {
                    int qOff = queryBase + (r0 + r) * headDim;
                    float[] row = logits[r];
                    for (int d = 0; d < headDim; d++) {
                        ScoreKernels.axpy(qWindow[qOff + d], keysT[d], row, j0, j1);
                    }
                }
            }
            for (int r = 0; r < block; r++) {
                float[] row = logits[r];
                for (int j = 0; j < n; j++) {
                    row[j] *= scale;
                }
                ScoreKernels.softmaxAccumulate(row, n, score);
            }
        }
        maxPool(score, n, kernelSize / 2, pooled, deque);
    }

    /**
     * {@code out[j] = max(in[max(0, j−r) .. min(n−1, j+r)])}: max-pool of width 2r+1, stride 1, −∞ padding r, in
     * O(n) with a monotonic deque of indices (values non-increasing from head to tail).
     */
    static void maxPool(float[] in, int n, int r, float[] out, int[] deque) {
        int head = 0;
        int tail = 0;
        int next = 0;   // next index to enter the window
        for (int j = 0; j < n; j++) {
            int hi = Math.min(n - 1, j + r);
            while (next <= hi) {
                while (tail > head && in[deque[tail - 1]] <= in[next]) {
                    tail--;
                }
                deque[tail++] = next++;
            }
            while (deque[head] < j - r) {
                head++;
            }
            out[j] = in[deque[head]];
        }
    }
}
