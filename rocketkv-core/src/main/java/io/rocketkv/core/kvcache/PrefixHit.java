package io.rocketkv.core.kvcache;

import java.util.List;

/**
 * The longest cached prefix of a new sequence's full blocks ({@link KvCacheManager#findCachedPrefix}): valid until
 * the pool next changes, so it is found and used in one scheduling decision.
 *
 * @param blocks     the cached blocks, in token order
 * @param keys       their prefix-cache keys (the sequence's hash chain so far)
 * @param freeBlocks how many of them are free now (cached but unreferenced): taking them back uses up free blocks
 */
public record PrefixHit(int[] blocks, List<BlockHash> keys, int freeBlocks) {

    /** No block cached. */
    public static final PrefixHit NONE = new PrefixHit(new int[0], List.of(), 0);

    public PrefixHit {
        blocks = blocks.clone();
        keys = List.copyOf(keys);
        if (keys.size() != blocks.length) {
            throw new IllegalArgumentException("one key per block, got " + blocks.length + " blocks and " + keys.size()
                    + " keys");
        }
    }

    @Override
    public int[] blocks() {
        return blocks.clone();
    }

    public int numBlocks() {
        return blocks.length;
    }

    /** Tokens the cached blocks hold. */
    public int tokens(int tokensPerBlock) {
        return blocks.length * tokensPerBlock;
    }

    int block(int i) {
        return blocks[i];
    }
}
