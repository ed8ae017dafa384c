package io.rocketkv.core.tokenizer;

import java.util.Arrays;

/**
 * Applies BPE merges to one word, exactly as {@code tokenizers}' {@code Word::merge_all}: a min-heap
 * of candidate merges ordered by (rank, position), symbols in a doubly linked list, stale heap entries
 * skipped when the pair at their position no longer produces the same token. O(n log n) in the word
 * length, so a 100 KB word without spaces is fine.
 */
final class BpeWord {
    private BpeWord() {
    }

    /** Merges {@code ids[0, n)} in place and returns the merged ids. */
    static int[] merge(int[] ids, int n, MergeTable merges) {
        if (n < 2) {
            return Arrays.copyOf(ids, n);
        }
        int[] prev = new int[n]; // (n) index of the previous live symbol, -1 at the start
        int[] next = new int[n]; // (n) index of the next live symbol, -1 at the end
        long[] heap = new long[n + 8]; // entries (rank << 32 | position), a binary min-heap
        int size = 0;
        for (int i = 0; i < n; i++) {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }
        for (int i = 0; i + 1 < n; i++) {
            int rank = merges.rank(ids[i], ids[i + 1]);
            if (rank >= 0) {
                heap[size++] = entry(rank, i);
            }
        }
        for (int i = size / 2 - 1; i >= 0; i--) {
            siftDown(heap, size, i);
        }
        while (size > 0) {
            long top = heap[0];
            heap[0] = heap[--size];
            siftDown(heap, size, 0);
            int rank = (int) (top >>> 32);
            int pos = (int) top;
            int right = next[pos];
            if (ids[pos] < 0 || right < 0) {
                continue; // removed, or the last symbol
            }
            int newId = merges.newId(rank);
            int current = merges.rank(ids[pos], ids[right]);
            if (current < 0 || merges.newId(current) != newId) {
                continue; // stale entry
            }
            ids[pos] = newId;
            ids[right] = -1;
            next[pos] = next[right];
            if (next[pos] >= 0) {
                prev[next[pos]] = pos;
            }
            if (prev[pos] >= 0) {
                int r = merges.rank(ids[prev[pos]], newId);
                if (r >= 0) {
                    heap = push(heap, size++, entry(r, prev[pos]));
                }
            }
            if (next[pos] >= 0) {
                int r = merges.rank(newId, ids[next[pos]]);
                if (r >= 0) {
                    heap = push(heap, size++, entry(r, pos));
                }
            }
        }
        int count = 0;
        for (int i = 0; i < n; i++) {
            if (ids[i] >= 0) {
                ids[count++] = ids[i];
            }
        }
        return Arrays.copyOf(ids, count);
    }

    private static long entry(int rank, int pos) {
        return ((long) rank << 32) | pos;
    }

    private static long[] push(long[] heap, int size, long value) {
        if (size == heap.length) {
            heap = Arrays.copyOf(heap, heap.length * 2);
        }
        int i = size;
        while (i > 0) {
            int parent = (i - 1) >>> 1;
            if (heap[parent] <= value) {
                break;
            }
            heap[i] = heap[parent];
            i = parent;
        }
        heap[i] = value;
        return heap;
    }

    private static void siftDown(long[] heap, int size, int i) {
        long value = heap[i];
        while (true) {
            int child = 2 * i + 1;
            if (child >= size) {
                break;
            }
            if (child + 1 < size && heap[child + 1] < heap[child]) {
                child++;
            }
            if (heap[child] >= value) {
                break;
            }
            heap[i] = heap[child];
            i = child;
        }
        heap[i] = value;
    }
}
