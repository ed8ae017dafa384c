package io.rocketkv.core.kvcache;

import java.util.BitSet;
import java.util.HashMap;
import java.util.Map;

/**
 * A fixed pool of KV cache blocks: bookkeeping only (ids, reference counts, prefix-cache keys); the memory lives in
 * the backend.
 *
 * <p>Block {@code b} holds the cache slots {@code b * tokensPerBlock .. (b + 1) * tokensPerBlock - 1}. A used block
 * carries a reference count: 1 for a block owned by one sequence, more for a cached prefix block shared by several
 * ({@link #retain}).
 *
 * <p>Prefix caching (vLLM v1's block pool): a full block whose K/V are computed may be given its {@link BlockHash}
 * ({@link #cache}); {@link #lookup} finds it by that key. A cached block whose last reference goes is still free —
 * it counts in {@link #numFree()} — but keeps its contents and key in an LRU list, and a new request may take it back
 * ({@link #retain}). Free blocks without a key wait in a FIFO queue (taken from the head, returned to the tail, as
 * nano-vllm's {@code BlockManager} does). {@link #allocate} takes from that queue first and evicts the least recently
 * freed cached block (dropping its key) only when the queue is empty: the cache never refuses a block the pool
 * could give.
 *
 * <p>Not thread-safe: the engine's scheduler thread owns it.
 */
public final class BlockPool {

    /** Default slots per block, as in TensorRT-LLM's {@code tokens_per_block}. */
    public static final int DEFAULT_TOKENS_PER_BLOCK = 32;

    private final int numBlocks;
    private final int tokensPerBlock;
    private final int[] refCounts;   // (numBlocks) 0 = free
    private final int[] freeQueue;   // (numBlocks) ring buffer of free blocks without a key, head at freeHead
    private int freeHead;
    private int numUncachedFree;
    private final BitSet used;       // (numBlocks) set bit = block in use
    private final BlockHash[] keys;  // (numBlocks) the block's prefix-cache key, or null
    private final Map<BlockHash, Integer> byKey = new HashMap<>();
    private final BlockLru cachedFree; // free blocks that keep their key, least recently freed first
    private long evictions;

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
        this.numUncachedFree = numBlocks;
        this.used = new BitSet(numBlocks);
        this.keys = new BlockHash[numBlocks];
        this.cachedFree = new BlockLru(numBlocks);
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

    /** Blocks with no reference: never used or freed, including cached ones that {@link #allocate} may evict. */
    public int numFree() {
        return numUncachedFree + cachedFree.size();
    }

    /** Blocks with at least one reference. */
    public int numUsed() {
        return numBlocks - numFree();
    }

    /** Blocks holding a prefix-cache key, used or free. */
    public int numCached() {
        return byKey.size();
    }

    /** Free blocks that still hold a cached prefix (evicted, least recently freed first, when the pool needs them). */
    public int numCachedFree() {
        return cachedFree.size();
    }

    /** Cached blocks evicted by {@link #allocate} so far. */
    public long evictions() {
        return evictions;
    }

    /** Whether {@code nBlocks} blocks can be allocated now (evicting cached free blocks if need be). */
    public boolean canAllocate(int nBlocks) {
        if (nBlocks < 0) {
            throw new IllegalArgumentException("nBlocks must be >= 0, got " + nBlocks);
        }
        return nBlocks <= numFree();
    }

    /**
     * Takes the oldest free block without a key, else evicts the least recently freed cached block (its key is
     * dropped), and gives it reference count 1.
     *
     * @throws KvCacheExhaustedException when no block is free (nothing changes)
     */
    public int allocate() {
        int block;
        if (numUncachedFree > 0) {
            block = freeQueue[freeHead];
            freeHead = (freeHead + 1) % numBlocks;
            numUncachedFree--;
        } else if (cachedFree.size() > 0) {
            block = cachedFree.removeFirst();
            byKey.remove(keys[block]);
            keys[block] = null;
            evictions++;
        } else {
            throw new KvCacheExhaustedException("a new block", 1, 0, numBlocks, tokensPerBlock);
        }
        refCounts[block] = 1;
        used.set(block);
        return block;
    }

    /**
     * Adds a reference to a used block, or takes back a free cached block (reference count 1, out of the LRU list);
     * returns the new count.
     *
     * @throws IllegalStateException when the block is free and holds no key (its contents are gone)
     */
    public int retain(int blockId) {
        checkRange(blockId);
        if (!used.get(blockId)) {
            if (!cachedFree.contains(blockId)) {
                throw new IllegalStateException("cannot retain block " + blockId + ": it is free and caches nothing");
            }
            cachedFree.remove(blockId);
            used.set(blockId);
        }
        return ++refCounts[blockId];
    }

    /**
     * Drops one reference; a block whose count reaches 0 is free again: a cached one goes to the tail of the LRU list
     * (keeping its key and contents), any other to the tail of the free queue.
     *
     * @return the remaining reference count (0 = the block is free again)
     * @throws IllegalStateException when the block is not in use (a double free)
     */
    public int free(int blockId) {
        checkUsed(blockId, "free");
        int left = --refCounts[blockId];
        if (left == 0) {
            used.clear(blockId);
            if (keys[blockId] != null) {
                cachedFree.addLast(blockId);
            } else {
                pushFree(blockId);
            }
        }
        return left;
    }

    /**
     * Gives a used block, whose K/V are computed and whose tokens fill it, its prefix-cache key. When another block
     * already holds that key (the same prefix computed twice) nothing changes: the first stays the cached one.
     *
     * @return whether the block now holds the key
     * @throws IllegalStateException when the block is free or already holds a key
     */
    public boolean cache(int blockId, BlockHash key) {
        checkUsed(blockId, "cache");
        if (keys[blockId] != null) {
            throw new IllegalStateException("block " + blockId + " already holds a prefix-cache key");
        }
        if (byKey.containsKey(key)) {
            return false;
        }
        keys[blockId] = key;
        byKey.put(key, blockId);
        return true;
    }

    /** Drops a block's key (its contents are not to be trusted); a free cached block joins the free queue. */
    public void uncache(int blockId) {
        checkRange(blockId);
        BlockHash key = keys[blockId];
        if (key == null) {
            return;
        }
        byKey.remove(key);
        keys[blockId] = null;
        if (cachedFree.contains(blockId)) {
            cachedFree.remove(blockId);
            pushFree(blockId);
        }
    }

    /** The block holding {@code key} (used or free), or −1. */
    public int lookup(BlockHash key) {
        Integer b = byKey.get(key);
        return b == null ? -1 : b;
    }

    /** A block's prefix-cache key, or null. */
    public BlockHash keyOf(int blockId) {
        checkRange(blockId);
        return keys[blockId];
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

    private void pushFree(int blockId) {
        freeQueue[(freeHead + numUncachedFree) % numBlocks] = blockId;
        numUncachedFree++;
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
        return "BlockPool[blocks=" + numBlocks + ", tokensPerBlock=" + tokensPerBlock + ", free=" + numFree()
                + ", cached=" + byKey.size() + "]";
    }
}
