package io.rocketkv.core.kvcache;

/**
 * The KV cache block pool has fewer free blocks than an allocation or an append needs.
 *
 * <p>Thrown by {@link KvCacheManager#allocate} and {@link KvCacheManager#append} (and {@link BlockPool#allocate})
 * <em>before</em> any state changes, so a caller that catches it can preempt a sequence and retry. The scheduler
 * avoids it altogether by asking {@link KvCacheManager#canAllocate} / {@link KvCacheManager#canAppend} first.
 */
public final class KvCacheExhaustedException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** What a user can change to get a bigger pool or a smaller demand; appended to every message. */
    static final String HOW_TO_FIX =
            "raise kv_cache_config.max_tokens (or free_gpu_memory_fraction), or lower max_batch_size or max_seq_len";

    private final int blocksNeeded;
    private final int blocksFree;
    private final int blocksTotal;

    public KvCacheExhaustedException(String what, int blocksNeeded, int blocksFree, int blocksTotal, int tokensPerBlock) {
        super("KV cache exhausted: " + what + " needs " + blocksNeeded + (blocksNeeded == 1 ? " block" : " blocks")
                + " of " + tokensPerBlock + " tokens but only " + blocksFree + " of " + blocksTotal
                + " blocks are free; " + HOW_TO_FIX);
        this.blocksNeeded = blocksNeeded;
        this.blocksFree = blocksFree;
        this.blocksTotal = blocksTotal;
    }

    /** Blocks the failed request needed. */
    public int blocksNeeded() {
        return blocksNeeded;
    }

    /** Free blocks in the pool when it failed. */
    public int blocksFree() {
        return blocksFree;
    }

    /** Blocks in the pool, used and free. */
    public int blocksTotal() {
        return blocksTotal;
    }
}
