package io.rocketkv.core.kvcache;

/**
 * Prefix-cache counters of a pool since it was made (vLLM's {@code PrefixCacheStats} in tokens). Every admission of
 * a sequence counts, a recompute after preemption included.
 *
 * @param admissions    sequences admitted (each looked its prompt up once)
 * @param queriedTokens tokens of the admitted sequences' prefills
 * @param hitTokens     of those, tokens served from cached blocks (not prefilled)
 * @param cachedBlocks  blocks holding a cached prefix now, used or free
 * @param evictions     cached free blocks reused for other contents so far
 */
public record PrefixCacheStats(long admissions, long queriedTokens, long hitTokens, int cachedBlocks, long evictions) {

    /** Nothing counted: a pool without block reuse, or before the first request. */
    public static final PrefixCacheStats EMPTY = new PrefixCacheStats(0, 0, 0, 0, 0);

    /** {@code hitTokens / queriedTokens}, 0 before any query. */
    public double hitRate() {
        return queriedTokens == 0 ? 0.0 : (double) hitTokens / queriedTokens;
    }
}
