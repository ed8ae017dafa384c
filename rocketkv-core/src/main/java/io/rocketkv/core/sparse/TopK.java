package io.rocketkv.core.sparse;

import java.util.Arrays;

/**
 * Top-k selection over a float array with a deterministic tie rule: a larger value ranks higher, and among equal
 * values the lower index ranks higher. Used by both RocketKV stages (prompt tokens, channels, pages).
 *
 * <p>A bounded binary min-heap of indices ({@code O(n log k)} time, {@code O(k)} extra ints, no boxing); the heap
 * root is the lowest-ranked index kept so far. Values are compared with {@code <} and {@code ==}, so {@code -0f}
 * equals {@code 0f}; NaN inputs give an unspecified (but still valid: k distinct indices) selection.
 */
final class TopK {

    private TopK() {
    }

    /**
     * The indices of the {@code k} highest-ranked values among {@code values[0 .. n)}, sorted ascending.
     * Returns all of {@code 0 .. n-1} when {@code k >= n}.
     */
    static int[] largestAscending(float[] values, int n, int k) {
        if (k >= n) {
            return iota(n);
        }
        if (k <= 0) {
            return new int[0];
        }
        int[] heap = new int[k];   // (k) indices; heap[0] is the lowest-ranked one kept
        for (int i = 0; i < k; i++) {
            heap[i] = i;
        }
        for (int i = k / 2 - 1; i >= 0; i--) {
            siftDown(heap, k, i, values);
        }
        for (int i = k; i < n; i++) {
            // i is larger than every index in the heap, so it only wins on a strictly larger value.
            if (values[i] > values[heap[0]]) {
                heap[0] = i;
                siftDown(heap, k, 0, values);
            }
        }
        Arrays.sort(heap);
        return heap;
    }

    /** {@code 0, 1, ..., n-1}. */
    static int[] iota(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }

    /** True when index a ranks below index b: smaller value, or equal value and larger index. */
    private static boolean ranksBelow(float[] v, int a, int b) {
        return v[a] < v[b] || (v[a] == v[b] && a > b);
    }

    private static void siftDown(int[] heap, int size, int pos, float[] v) {
        int x = heap[pos];
        while (true) {
            int child = 2 * pos + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && ranksBelow(v, heap[child + 1], heap[child])) {
                child++;
            }
            if (!ranksBelow(v, heap[child], x)) {
                break;
            }
            heap[pos] = heap[child];
            pos = child;
        }
        heap[pos] = x;
    }
}
