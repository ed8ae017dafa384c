package io.rocketkv.core.engine;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/** Straightforward double-precision reference for the sampler's math, written independently of it (boxed, slow). */
final class SamplerReference {

    private SamplerReference() {
    }

    /** Token ids by descending logit, ties by ascending id. */
    static int[] rankOrder(float[] logits) {
        return IntStream.range(0, logits.length).boxed()
                .sorted(Comparator.<Integer>comparingDouble(i -> -(double) logits[i]).thenComparingInt(i -> i))
                .mapToInt(Integer::intValue).toArray();
    }

    /** log_softmax of the raw logits, in double. */
    static double[] logSoftmax(float[] logits) {
        double max = Double.NEGATIVE_INFINITY;
        for (float x : logits) {
            max = Math.max(max, x);
        }
        double sum = 0;
        for (float x : logits) {
            sum += Math.exp(x - max);
        }
        double lse = max + Math.log(sum);
        return IntStream.range(0, logits.length).mapToDouble(i -> logits[i] - lse).toArray();
    }

    /** Ids kept by temperature → top-k → top-p, in rank order. */
    static int[] kept(float[] logits, double temperature, int topK, double topP) {
        return kept(logits, rankOrder(logits), temperature, topK, topP);
    }

    /** As {@link #kept(float[], double, int, double)} with the {@link #rankOrder} already computed. */
    static int[] kept(float[] logits, int[] order, double temperature, int topK, double topP) {
        int k = topK >= 1 && topK < logits.length ? topK : logits.length;
        double[] q = softmaxOver(logits, Arrays.copyOf(order, k), temperature);
        if (topP >= 1.0) {
            return Arrays.copyOf(order, k);
        }
        double cum = 0;
        for (int j = 0; j < k; j++) {
            cum += q[j];
            if (cum >= topP) {
                return Arrays.copyOf(order, j + 1);
            }
        }
        return Arrays.copyOf(order, k);
    }

    /** Exact probability of every id after temperature → top-k → top-p, renormalised; 0 for dropped ids. */
    static double[] probabilities(float[] logits, double temperature, int topK, double topP) {
        int[] keep = kept(logits, temperature, topK, topP);
        double[] q = softmaxOver(logits, keep, temperature);
        double[] p = new double[logits.length];
        for (int j = 0; j < keep.length; j++) {
            p[keep[j]] = q[j];
        }
        return p;
    }

    /** softmax(logits[ids] / T) over the given ids, in that order. */
    private static double[] softmaxOver(float[] logits, int[] ids, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (int id : ids) {
            max = Math.max(max, logits[id] / temperature);
        }
        double[] w = new double[ids.length];
        double sum = 0;
        for (int j = 0; j < ids.length; j++) {
            w[j] = Math.exp(logits[ids[j]] / temperature - max);
            sum += w[j];
        }
        for (int j = 0; j < ids.length; j++) {
            w[j] /= sum;
        }
        return w;
    }
}
