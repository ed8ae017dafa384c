package io.rocketkv.core.kvcache;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The prefix-caching side of {@link KvCacheManager} (vLLM v1's scheme): each sequence's hash chain over its full
 * blocks, the lookup of a new sequence's longest cached prefix, the keying of blocks as steps compute them (pending
 * until the step ran), and the counters. The blocks and their keys live in the {@link BlockPool}.
 *
 * <p>Not thread-safe: the engine's scheduler thread owns it.
 */
final class PrefixCache {

    private final BlockPool pool;
    private final boolean on;
    // seqId -> keys of its first full blocks, in order; absent while off, or once slot i no longer holds token i
    private final Map<Long, List<BlockHash>> chains = new HashMap<>();
    private final List<Integer> pending = new ArrayList<>(); // blocks keyed since the last commit
    private long admissions;
    private long queriedTokens;
    private long hitTokens;

    PrefixCache(BlockPool pool, boolean on) {
        this.pool = pool;
        this.on = on;
    }

    boolean on() {
        return on;
    }

    /** See {@link KvCacheManager#findCachedPrefix}. */
    PrefixHit find(int[] tokens, int maxCachedTokens) {
        int tpb = pool.tokensPerBlock();
        int maxBlocks = Math.min(Math.max(maxCachedTokens, 0), tokens.length) / tpb;
        if (!on || maxBlocks == 0) {
            return PrefixHit.NONE;
        }
        List<BlockHash> keys = new ArrayList<>();
        int[] blocks = new int[maxBlocks];
        int free = 0;
        BlockHash parent = BlockHash.ROOT;
        for (int i = 0; i < maxBlocks; i++) {
            BlockHash key = BlockHash.of(parent, tokens, i * tpb, (i + 1) * tpb);
            int b = pool.lookup(key);
            if (b < 0) {
                break;
            }
            blocks[i] = b;
            keys.add(key);
            free += pool.isUsed(b) ? 0 : 1;
            parent = key;
        }
        return keys.isEmpty() ? PrefixHit.NONE : new PrefixHit(Arrays.copyOf(blocks, keys.size()), keys, free);
    }

    /** Throws when a block of {@code hit} no longer holds its key (the pool changed since the lookup). */
    void checkFresh(PrefixHit hit) {
        for (int i = 0; i < hit.numBlocks(); i++) {
            if (!hit.keys().get(i).equals(pool.keyOf(hit.block(i)))) {
                throw new IllegalStateException("stale prefix hit: block " + hit.block(i) + " no longer caches it");
            }
        }
    }

    /** A sequence was admitted with {@code hit}: its chain starts with the hit's keys; the admission is counted. */
    void admitted(long seqId, int numTokens, PrefixHit hit) {
        if (on) {
            chains.put(seqId, new ArrayList<>(hit.keys()));
        }
        admissions++;
        queriedTokens += numTokens;
        hitTokens += hit.tokens(pool.tokensPerBlock());
    }

    /** See {@link KvCacheManager#markComputed}. */
    int markComputed(long seqId, BlockTable table, int[] tokens, int computedTokens) {
        List<BlockHash> chain = chains.get(seqId);
        if (chain == null) {
            return 0;
        }
        int tpb = pool.tokensPerBlock();
        int full = Math.min(Math.min(computedTokens, table.numTokens()), tokens.length) / tpb;
        int keyed = 0;
        for (int i = chain.size(); i < full; i++) {
            BlockHash key = BlockHash.of(i == 0 ? BlockHash.ROOT : chain.get(i - 1), tokens, i * tpb, (i + 1) * tpb);
            chain.add(key);
            int b = table.blockId(i);
            if (b >= 0 && pool.keyOf(b) == null && pool.cache(b, key)) { // −1: released by a sliding window
                pending.add(b);
                keyed++;
            }
        }
        return keyed;
    }

    /** The sequence's slots stop holding its tokens in order (compaction), or it left: no more keys for it. */
    void forget(long seqId) {
        chains.remove(seqId);
    }

    void commit() {
        pending.clear();
    }

    void abort() {
        for (int b : pending) {
            pool.uncache(b);
        }
        pending.clear();
    }

    PrefixCacheStats stats() {
        return new PrefixCacheStats(admissions, queriedTokens, hitTokens, pool.numCached(), pool.evictions());
    }
}
