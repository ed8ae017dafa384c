package io.rocketkv.core.kvcache;

import java.util.Arrays;

/**
 * Free blocks that still hold a cached prefix, least recently freed first: an intrusive doubly linked list over block
 * ids (O(1) add at the tail, remove anywhere, take the head), so a cached block can leave the list when a new request
 * reuses it and the pool evicts the one freed longest ago when it needs a block.
 */
final class BlockLru {

    private static final int NONE = -1;

    private final int[] prev;   // (numBlocks) previous block in the list, or NONE
    private final int[] next;   // (numBlocks) next block in the list, or NONE
    private final boolean[] in; // (numBlocks) whether the block is in the list
    private int head = NONE;
    private int tail = NONE;
    private int size;

    BlockLru(int numBlocks) {
        prev = new int[numBlocks];
        next = new int[numBlocks];
        in = new boolean[numBlocks];
        Arrays.fill(prev, NONE);
        Arrays.fill(next, NONE);
    }

    int size() {
        return size;
    }

    boolean contains(int block) {
        return in[block];
    }

    /** Appends a block as the most recently freed. */
    void addLast(int block) {
        if (in[block]) {
            throw new IllegalStateException("block " + block + " is already in the cached-free list");
        }
        in[block] = true;
        prev[block] = tail;
        next[block] = NONE;
        if (tail == NONE) {
            head = block;
        } else {
            next[tail] = block;
        }
        tail = block;
        size++;
    }

    /** Removes a block from wherever it is in the list. */
    void remove(int block) {
        if (!in[block]) {
            throw new IllegalStateException("block " + block + " is not in the cached-free list");
        }
        int p = prev[block];
        int n = next[block];
        if (p == NONE) {
            head = n;
        } else {
            next[p] = n;
        }
        if (n == NONE) {
            tail = p;
        } else {
            prev[n] = p;
        }
        prev[block] = NONE;
        next[block] = NONE;
        in[block] = false;
        size--;
    }

    /** Removes and returns the least recently freed block. */
    int removeFirst() {
        if (head == NONE) {
            throw new IllegalStateException("the cached-free list is empty");
        }
        int b = head;
        remove(b);
        return b;
    }
}
