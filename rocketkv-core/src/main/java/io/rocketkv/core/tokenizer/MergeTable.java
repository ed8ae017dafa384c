package io.rocketkv.core.tokenizer;

import java.util.Arrays;

/**
 * BPE merges as an open-addressing hash table from a token-id pair to its rank (the merge's line in
 * {@code "merges"}; lower merges first), plus the id each rank produces. A pair listed twice keeps
 * its last rank, as {@code tokenizers}' {@code HashMap} collect does.
 */
final class MergeTable {
    private static final long EMPTY = -1L;

    private final long[] keys;   // (capacity) pair (left << 32 | right), EMPTY when free
    private final int[] ranks;   // (capacity) rank of the pair in keys[i]
    private final int[] newIds;  // (merge count) id of the token merge r produces
    private final int mask;

    MergeTable(int[] left, int[] right, int[] merged) {
        int n = left.length;
        int capacity = Integer.highestOneBit(Math.max(4, n * 2 - 1)) << 1;
        keys = new long[capacity];
        Arrays.fill(keys, EMPTY);
        ranks = new int[capacity];
        mask = capacity - 1;
        newIds = merged.clone();
        for (int rank = 0; rank < n; rank++) {
            long key = pair(left[rank], right[rank]);
            int slot = slot(key);
            while (keys[slot] != EMPTY && keys[slot] != key) {
                slot = (slot + 1) & mask;
            }
            keys[slot] = key;
            ranks[slot] = rank;
        }
    }

    /** The rank of merging {@code left} then {@code right}, or -1 when they do not merge. */
    int rank(int left, int right) {
        long key = pair(left, right);
        int slot = slot(key);
        while (true) {
            long k = keys[slot];
            if (k == key) {
                return ranks[slot];
            }
            if (k == EMPTY) {
                return -1;
            }
            slot = (slot + 1) & mask;
        }
    }

    /** The id of the token merge {@code rank} produces. */
    int newId(int rank) {
        return newIds[rank];
    }

    private static long pair(int left, int right) {
        return ((long) left << 32) | (right & 0xFFFFFFFFL);
    }

    private int slot(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 29)) & mask;
    }
}
