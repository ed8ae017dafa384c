package io.rocketkv.core.sparse;

import java.util.Arrays;
import java.util.Comparator;

/**
 * A deliberately naive RocketKV reference, written from ROCKETKV.md without looking at {@link RocketKv}: plain
 * loops, {@code double} everywhere, full sorts with explicit comparators. It returns scores, not only selections,
 * so that the tests can tell a real disagreement from an fp32-vs-fp64 near tie.
 */
final class RocketKvReference {

    private RocketKvReference() {
    }

    /**
     * Stage 1 pooled scores, (Hkv, L − W). qWin is (H, W, D), keys (Hkv, L, D); requires L > W.
     */
    static double[][] stage1PooledScores(float[] qWin, float[] keys, int numHeads, int numKvHeads, int headDim,
            int promptLen, int windowSize, int kernelSize) {
        int groupSize = numHeads / numKvHeads;
        int prefix = promptLen - windowSize;
        double[][] pooled = new double[numKvHeads][prefix];
        for (int g = 0; g < numKvHeads; g++) {
            double[] score = new double[prefix];
            for (int h = g * groupSize; h < (g + 1) * groupSize; h++) {
                for (int i = 0; i < windowSize; i++) {
                    double[] s = new double[prefix];
                    for (int j = 0; j < prefix; j++) {
                        double dot = 0;
                        for (int d = 0; d < headDim; d++) {
                            dot += (double) qWin[(h * windowSize + i) * headDim + d]
                                    * (double) keys[(g * promptLen + j) * headDim + d];
                        }
                        s[j] = dot / Math.sqrt(headDim);
                    }
                    double max = Double.NEGATIVE_INFINITY;
                    for (double v : s) {
                        max = Math.max(max, v);
                    }
                    double sum = 0;
                    for (int j = 0; j < prefix; j++) {
                        s[j] = Math.exp(s[j] - max);
                        sum += s[j];
                    }
                    for (int j = 0; j < prefix; j++) {
                        score[j] += s[j] / sum;
                    }
                }
            }
            int half = kernelSize / 2;
            for (int j = 0; j < prefix; j++) {
                double m = Double.NEGATIVE_INFINITY;   // the -inf padding
                for (int t = j - half; t <= j + half; t++) {
                    if (t >= 0 && t < prefix) {
                        m = Math.max(m, score[t]);
                    }
                }
                pooled[g][j] = m;
            }
        }
        return pooled;
    }

    /** Stage 1 kept set from pooled scores: top (B − W) prefix indices ascending, then the window. */
    static int[] stage1Kept(double[] pooled, int promptLen, int windowSize, int promptBudget) {
        int[] top = topAscending(pooled, promptBudget - windowSize);
        int[] kept = Arrays.copyOf(top, promptBudget);
        for (int t = 0; t < windowSize; t++) {
            kept[top.length + t] = promptLen - windowSize + t;
        }
        return kept;
    }

    /** Σ_{h in g} |q[h,d]| in double. */
    static double[] channelMass(float[] q, int g, int groupSize, int headDim) {
        double[] a = new double[headDim];
        for (int h = g * groupSize; h < (g + 1) * groupSize; h++) {
            for (int d = 0; d < headDim; d++) {
                a[d] += Math.abs((double) q[h * headDim + d]);
            }
        }
        return a;
    }

    /** The topr channels kept for group g (largest mass, ties: lower channel), as a mask. */
    static boolean[] keptChannels(float[] q, int g, int groupSize, int headDim, int topr) {
        boolean[] kept = new boolean[headDim];
        for (int d : topAscending(channelMass(q, g, groupSize, headDim), topr)) {
            kept[d] = true;
        }
        return kept;
    }

    /** Σ_{h in g} q[h,d] over the kept channels (0 elsewhere), in double. */
    static double[] channelSum(float[] q, boolean[] keptChannels, int g, int groupSize, int headDim) {
        double[] sum = new double[headDim];
        for (int h = g * groupSize; h < (g + 1) * groupSize; h++) {
            for (int d = 0; d < headDim; d++) {
                if (keptChannels[d]) {
                    sum[d] += q[h * headDim + d];
                }
            }
        }
        return sum;
    }

    /**
     * Stage 2 page scores of group g, (numPages): mean over the group's heads of softmax over pages of
     * (q_filtered[h] · sel_p) / sqrt(D), with sel_p[d] = ktMax where useMax[d], else ktMin.
     */
    static double[] stage2Scores(float[] q, float[] ktMin, float[] ktMax, int numHeads, int numKvHeads,
            int headDim, int numPages, int g, boolean[] keptChannels, boolean[] useMax) {
        int groupSize = numHeads / numKvHeads;
        double[] score = new double[numPages];
        for (int h = g * groupSize; h < (g + 1) * groupSize; h++) {
            double[] s = new double[numPages];
            for (int p = 0; p < numPages; p++) {
                double dot = 0;
                for (int d = 0; d < headDim; d++) {
                    double qd = keptChannels[d] ? q[h * headDim + d] : 0.0;
                    int at = (g * numPages + p) * headDim + d;
                    dot += qd * (useMax[d] ? ktMax[at] : ktMin[at]);
                }
                s[p] = dot / Math.sqrt(headDim);
            }
            double max = Double.NEGATIVE_INFINITY;
            for (double v : s) {
                max = Math.max(max, v);
            }
            double sum = 0;
            for (int p = 0; p < numPages; p++) {
                s[p] = Math.exp(s[p] - max);
                sum += s[p];
            }
            for (int p = 0; p < numPages; p++) {
                score[p] += s[p] / sum;
            }
        }
        for (int p = 0; p < numPages; p++) {
            score[p] /= groupSize;
        }
        return score;
    }

    /** Indices of the k largest values (ties: lower index), ascending; all indices when k >= length. */
    static int[] topAscending(double[] values, int k) {
        Integer[] order = new Integer[values.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Comparator<Integer> byRank = (a, b) -> {
            int c = Double.compare(values[b], values[a]);   // larger value first
            return c != 0 ? c : Integer.compare(a, b);      // then lower index
        };
        Arrays.sort(order, byRank);
        int[] top = new int[Math.min(k, values.length)];
        for (int i = 0; i < top.length; i++) {
            top[i] = order[i];
        }
        Arrays.sort(top);
        return top;
    }
}
