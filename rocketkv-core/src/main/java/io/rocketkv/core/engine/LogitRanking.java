package io.rocketkv.core.engine;

import java.util.Arrays;

/**
 * Ranks token ids by logit without boxing: each (logit, id) pair is packed into one {@code long} whose natural
 * ascending order is <em>descending logit, then ascending id</em>, so a primitive sort (or a primitive heap) ranks
 * the vocabulary and ties always favour the lower id.
 *
 * <p>Key layout: high 32 bits = bitwise NOT of the logit's order-preserving int image, low 32 bits = the id (≥ 0).
 * {@code -0.0} is ranked as {@code +0.0}. NaN must be rejected by the caller.
 */
final class LogitRanking {

    private LogitRanking() {
    }

    /** The ranking key of {@code (logit, id)}: smaller key = better rank. */
    static long key(float logit, int id) {
        int bits = Float.floatToRawIntBits(logit + 0.0f);      // + 0.0f turns -0.0 into +0.0
        int ordered = bits ^ ((bits >> 31) & 0x7fffffff);       // int order == float order
        return ((long) ~ordered << 32) | (id & 0xffffffffL);
    }

    /** The token id packed in a key. */
    static int id(long key) {
        return (int) key;
    }

    /**
     * The {@code k} best tokens of {@code logits[offset .. offset+n)}, best first, in {@code out[0 .. k)}: a bounded
     * max-heap over the keys, O(n log k), then a sort of the k survivors.
     */
    static void selectTop(float[] logits, int offset, int n, int k, long[] out) {
        if (k < 1 || k > n) {
            throw new IllegalArgumentException("k must be in [1, " + n + "], got " + k);
        }
        int size = 0;
        for (int i = 0; i < n; i++) {
            long key = key(logits[offset + i], i);
            if (size < k) {
                out[size] = key;
                siftUp(out, size++);
            } else if (key < out[0]) {
                out[0] = key;
                siftDown(out, k);
            }
        }
        Arrays.sort(out, 0, k);
    }

    /** All tokens of {@code logits[offset .. offset+n)}, best first, in {@code out[0 .. n)}: O(n log n). */
    static void sortAll(float[] logits, int offset, int n, long[] out) {
        for (int i = 0; i < n; i++) {
            out[i] = key(logits[offset + i], i);
        }
        Arrays.sort(out, 0, n);
    }

    // Max-heap on keys: the root is the worst of the k kept so far.
    private static void siftUp(long[] heap, int i) {
        long v = heap[i];
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] >= v) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = v;
    }

    private static void siftDown(long[] heap, int size) {
        long v = heap[0];
        int i = 0;
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && heap[child + 1] > heap[child]) {
                child++;
            }
            if (heap[child] <= v) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = v;
    }
}
