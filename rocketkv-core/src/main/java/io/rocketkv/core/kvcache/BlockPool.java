package io.rocketkv.core.kvcache;

import java.util.BitSet;

/**
 * A fixed pool of KV cache blocks: bookkeeping only (ids and reference counts); the memory lives in the backend.
 *
 * <p>Block {@code b} holds the cache slots {@code b * tokensPerBlock .. (b + 1) * tokensPerBlock - 1}. Free blocks
 * wait in a FIFO queue (taken from the head, returned to the tail, as nano-vllm's {@code BlockManager} does); used
 * blocks carry a reference count, which is 1 for a block owned by one sequence. Counts above 1 ({@link #retain}) are
 * there for block reuse / prefix caching, which is not implemented yet.
 *
 * <p>Not thread-safe: the engine's scheduler thread owns it.
 */
public final class BlockPool {

    /** Default slots per block, as in TensorRT-LLM's {@code tokens_per_block}. */
    public static final int DEFAULT_TOKENS_PER_BLOCK = 32;

    private final int numBlocks;
    private final int tokensPerBlock;
    private final int[] refCounts;   // (numBlocks) 0 = free
    private final int[] freeQueue;   // (numBlocks) ring buffer of free block ids, head at freeHead
    private int freeHead;
    private int numFree;
    private final BitSet used;       // (numBlocks) set bit = block in use

    public BlockPool(int numBlocks, int tokensPerBlock) {
        if (numBlocks < 1) {
            throw new IllegalArgumentException("numBlocks must be >= 1, got " + numBlocks);
        }
        if (tokensPerBlock < 1) {
            throw new IllegalArgumentException("tokensPerBlock must be >= 1, got " + tokensPerBlock);
        }
        if ((long) numBlocks * tokensPerBlock > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("numBlocks * tokensPerBlock must be <= " + Integer.MAX_VALUE
                    + " (slots are int), got " + numBlocks + " * " + tokensPerBlock);
        }
        this.numBlocks = numBlocks;
        this.tokensPerBlock = tokensPerBlock;
        this.refCounts = new int[numBlocks];
        this.freeQueue = new int[numBlocks];
        for (int b = 0; b < numBlocks; b++) {
            freeQueue[b] = b;
        }
        this.numFree = numBlocks;
        this.used = new BitSet(numBlocks);
    }

    /** A pool of {@code numBlocks} blocks of {@link #DEFAULT_TOKENS_PER_BLOCK} slots. */
    public BlockPool(int numBlocks) {
        this(numBlocks, DEFAULT_TOKENS_PER_BLOCK);
    }

    public int numBlocks() {
        return numBlocks;
    }

    public int tokensPerBlock() {
        return tokensPerBlock;
    }

    public int numFree() {
        return numFree;
    }

    public int numUsed() {
        return numBlocks - numFree;
    }

    /** Whether {@code nBlocks} blocks can be allocated now. */
    public boolean canAllocate(int nBlocks) {
        if (nBlocks < 0) {
            throw new IllegalArgumentException("nBlocks must be >= 0, got " + nBlocks);
        }
        return nBlocks <= numFree;
    }

    /**
     * Takes the oldest free block and gives it reference count 1.
     *
     * @throws KvCacheExhaustedException when no block is free (nothing changes)
     */
    public int allocate() {
        if (numFree == 0) {
            throw new KvCacheExhaustedException("a new block", 1, 0, numBlocks, tokensPerBlock);
        }
        int block = freeQueue[freeHead];
        freeHead = (freeHead + 1) % numBlocks;
        numFree--;
        refCounts[block] = 1;
        used.set(block);
        return block;
    }

    /** Adds a reference to a used block (for future block sharing); returns the new count. */
    public int retain(int blockId) {
        checkUsed(blockId, "retain");
        return ++refCounts[blockId];
    }

    /**
     * Drops one reference; a block whose count reaches 0 goes back to the tail of the free queue.
     *
     * @return the remaining reference count (0 = the block is free again)
     * @throws IllegalStateException when the block is not in use (a double free)
     */
    public int free(int blockId) {
        checkUsed(blockId, "free");
        int left = --refCounts[blockId];
        if (left == 0) {
            used.clear(blockId);
            freeQueue[(freeHead + numFree) % numBlocks] = blockId;
            numFree++;
        }
        return left;
    }

    /** Reference count of a block; 0 when it is free. */
    public int refCount(int blockId) {
        checkRange(blockId);
        return refCounts[blockId];
    }

    public boolean isUsed(int blockId) {
        checkRange(blockId);
        return used.get(blockId);
    }

    /** First slot of a block: {@code blockId * tokensPerBlock}. */
    public int firstSlot(int blockId) {
        checkRange(blockId);
        return blockId * tokensPerBlock;
    }

    private void checkUsed(int blockId, String op) {
        checkRange(blockId);
        if (!used.get(blockId)) {
            throw new IllegalStateException("cannot " + op + " block " + blockId + ": it is not in use (double free?)");
        }
    }

    private void checkRange(int blockId) {
        if (blockId < 0 || blockId >= numBlocks) {
            throw new IllegalArgumentException("blockId must be in [0, " + numBlocks + "), got " + blockId);
        }
    }

    @Override
    public String toString() {
        return "BlockPool[blocks=" + numBlocks + ", tokensPerBlock=" + tokensPerBlock + ", free=" + numFree + "]";
    }
}
