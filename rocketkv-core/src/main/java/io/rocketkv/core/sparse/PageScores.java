package io.rocketkv.core.sparse;

import java.util.Arrays;

/**
 * Stage 2 scores of one KV group: the mean over the group's G query heads of {@code softmax_p((q[h] · sel_p) /
 * sqrt(D))}, where {@code sel_p[d]} is page p's {@code kt_max[d]} when the group's (channel-filtered) query sum on d
 * is positive and its {@code kt_min[d]} otherwise.
 *
 * <p>One instance is the workspace for all KV heads of one call. The selected bounds are gathered once per KV head
 * into (D, numPages) rows, so each head's page logits are axpys over pages (vectorised, see {@link ScoreKernels}).
 * Cost per KV head: numPages·D gathers and G·numPages·D multiply-adds.
 */
final class PageScores {

    private static final int GATHER_BLOCK = 16;

    private final int groupSize;
    private final int headDim;
    private final int numPages;
    private final float scale;          // (float) (1 / sqrt(D))
    private final float[] qg;           // (G, D) the group's queries, channel-filtered
    private final float[] absSum;       // (D) Σ_h |q[h,d]|
    private final boolean[] keepChannel; // (D) channel d survives the topr filter
    private final boolean[] useMax;     // (D) the group's query sum on d is positive: read kt_max
    private final float[][] selT;       // (D, numPages) sign-selected bound, transposed
    private final float[][] logits;     // (G, numPages) page logits of each head, then exponentials
    private final float[] score;        // (numPages) mean probability over the group

    PageScores(int groupSize, int headDim, int numPages) {
        this.groupSize = groupSize;
        this.headDim = headDim;
        this.numPages = numPages;
        this.scale = (float) (1.0 / Math.sqrt(headDim));
        this.qg = new float[groupSize * headDim];
        this.absSum = new float[headDim];
        this.keepChannel = new boolean[headDim];
        this.useMax = new boolean[headDim];
        this.selT = new float[headDim][numPages];
        this.logits = new float[groupSize][numPages];
        this.score = new float[numPages];
    }

    /**
     * The page scores of KV head g, (numPages); the returned array is this workspace's and is overwritten by the
     * next call.
     *
     * @param q     (H, D) queries
     * @param ktMin (Hkv, numPages, D) page minima
     * @param ktMax (Hkv, numPages, D) page maxima
     */
    float[] scores(float[] q, float[] ktMin, float[] ktMax, int g, int topr) {
        System.arraycopy(q, g * groupSize * headDim, qg, 0, groupSize * headDim);
        if (topr < headDim) {
            filterChannels(topr);
        }
        int base = g * numPages * headDim;
        for (int d = 0; d < headDim; d++) {
            float sum = 0f;                                 // fp32, heads in ascending order
            for (int h = 0; h < groupSize; h++) {
                sum += qg[h * headDim + d];
            }
            useMax[d] = sum > 0f;                           // zero sum (or a filtered channel) reads kt_min
        }
        for (int p0 = 0; p0 < numPages; p0 += GATHER_BLOCK) {   // blocked: each d row gets 64 contiguous bytes
            int p1 = Math.min(numPages, p0 + GATHER_BLOCK);
            for (int d = 0; d < headDim; d++) {
                float[] bound = useMax[d] ? ktMax : ktMin;
                float[] dst = selT[d];
                for (int p = p0, src = base + p0 * headDim + d; p < p1; p++, src += headDim) {
                    dst[p] = bound[src];
                }
            }
        }
        Arrays.fill(score, 0f);
        for (int h = 0; h < groupSize; h++) {
            float[] row = logits[h];
            Arrays.fill(row, 0f);
            for (int d = 0; d < headDim; d++) {
                float qd = qg[h * headDim + d];
                if (qd != 0f) {                             // skips filtered channels; exact for finite bounds
                    ScoreKernels.axpy(qd, selT[d], row, 0, numPages);
                }
            }
            for (int p = 0; p < numPages; p++) {
                row[p] *= scale;
            }
            ScoreKernels.softmaxAccumulate(row, numPages, score);
        }
        for (int p = 0; p < numPages; p++) {
            score[p] /= groupSize;
        }
        return score;
    }

    /**
     * Keeps the topr channels with the largest {@code Σ_h |q[h,d]|} (fp32, heads in ascending order; ties: lower
     * channel index) and zeroes the others in every query of the group.
     */
    private void filterChannels(int topr) {
        Arrays.fill(absSum, 0f);
        for (int h = 0; h < groupSize; h++) {
            for (int d = 0; d < headDim; d++) {
                absSum[d] += Math.abs(qg[h * headDim + d]);
            }
        }
        Arrays.fill(keepChannel, false);
        for (int d : TopK.largestAscending(absSum, headDim, topr)) {
            keepChannel[d] = true;
        }
        for (int h = 0; h < groupSize; h++) {
            for (int d = 0; d < headDim; d++) {
                if (!keepChannel[d]) {
                    qg[h * headDim + d] = 0f;
                }
            }
        }
    }
}
