package io.rocketkv.core.kvcache;

import io.rocketkv.core.numeric.DType;

/**
 * How many KV cache blocks a model shape gets, from a token count or from a memory budget.
 *
 * <p>Per layer a block holds {@code [K|V][kv_head][slot][head_dim]} elements (see {@link KvCacheManager}), so one
 * token costs {@code 2 * numLayers * numKvHeads * headDim * bytesPerElement} bytes over the whole model and a block
 * costs {@code tokensPerBlock} times that.
 *
 * @param numLayers       decoder layers, ≥ 1
 * @param numKvHeads      key/value heads per layer, ≥ 1
 * @param headDim         channels per head, ≥ 1
 * @param bytesPerElement bytes of one cached element (2 for bf16/fp16, 1 for fp8), ≥ 1
 * @param tokensPerBlock  slots per block, ≥ 1
 */
public record KvCacheSizing(int numLayers, int numKvHeads, int headDim, int bytesPerElement, int tokensPerBlock) {

    public KvCacheSizing {
        requireAtLeastOne("numLayers", numLayers);
        requireAtLeastOne("numKvHeads", numKvHeads);
        requireAtLeastOne("headDim", headDim);
        requireAtLeastOne("bytesPerElement", bytesPerElement);
        requireAtLeastOne("tokensPerBlock", tokensPerBlock);
    }

    /** Sizing for a cache stored in {@code dtype} (its {@link DType#byteSize()} per element). */
    public static KvCacheSizing of(int numLayers, int numKvHeads, int headDim, DType dtype, int tokensPerBlock) {
        if (dtype == null) {
            throw new IllegalArgumentException("dtype must not be null");
        }
        return new KvCacheSizing(numLayers, numKvHeads, headDim, dtype.byteSize(), tokensPerBlock);
    }

    /** The most blocks a pool can have so that every slot fits in an int. */
    public int maxBlocks() {
        return Integer.MAX_VALUE / tokensPerBlock;
    }

    /** K and V bytes of one token over all layers: {@code 2 * numLayers * numKvHeads * headDim * bytesPerElement}. */
    public long bytesPerToken() {
        long perLayer = Math.multiplyExact(2L * numKvHeads, (long) headDim * bytesPerElement);
        return Math.multiplyExact(perLayer, (long) numLayers);
    }

    /** Bytes of one block over all layers: {@code bytesPerToken() * tokensPerBlock}. */
    public long bytesPerBlock() {
        return Math.multiplyExact(bytesPerToken(), (long) tokensPerBlock);
    }

    /** Bytes of a pool of {@code numBlocks} blocks. */
    public long totalBytes(int numBlocks) {
        if (numBlocks < 0) {
            throw new IllegalArgumentException("numBlocks must be >= 0, got " + numBlocks);
        }
        return Math.multiplyExact(bytesPerBlock(), (long) numBlocks);
    }

    /** Blocks for {@code maxTokens} tokens, rounded up to whole blocks ({@code kv_cache_config.max_tokens}). */
    public int blocksForMaxTokens(int maxTokens) {
        if (maxTokens < 1) {
            throw new IllegalArgumentException("kv_cache_config.max_tokens must be >= 1, got " + maxTokens);
        }
        return BlockTable.blocksNeeded(maxTokens, tokensPerBlock);
    }

    /**
     * Blocks that fit in {@code freeMemoryFraction} of {@code budgetBytes} (e.g. the device's free memory after the
     * weights are loaded), rounded down to whole blocks and capped at {@link #maxBlocks()}.
     *
     * @throws IllegalArgumentException when the budget does not hold a single block, or an argument is out of range
     */
    public int blocksForMemory(long budgetBytes, double freeMemoryFraction) {
        if (budgetBytes < 1) {
            throw new IllegalArgumentException("budgetBytes must be >= 1, got " + budgetBytes);
        }
        if (!(freeMemoryFraction > 0.0 && freeMemoryFraction <= 1.0)) {
            throw new IllegalArgumentException(
                    "kv_cache_config.free_gpu_memory_fraction must be in (0, 1], got " + freeMemoryFraction);
        }
        double usable = Math.floor(budgetBytes * freeMemoryFraction);
        double blocks = Math.floor(usable / bytesPerBlock());
        if (blocks < 1) {
            throw new IllegalArgumentException("KV cache budget of " + (long) usable + " bytes (" + freeMemoryFraction
                    + " of " + budgetBytes + ") holds no block of " + bytesPerBlock() + " bytes (" + tokensPerBlock
                    + " tokens of " + bytesPerToken() + " bytes); raise kv_cache_config.free_gpu_memory_fraction"
                    + " or free memory");
        }
        return (int) Math.min(blocks, maxBlocks());
    }

    /**
     * The smaller of {@link #blocksForMaxTokens} and {@link #blocksForMemory}, the rule TensorRT-LLM follows when both
     * {@code max_tokens} and {@code free_gpu_memory_fraction} are set.
     */
    public int blocksForMaxTokensWithin(int maxTokens, long budgetBytes, double freeMemoryFraction) {
        return Math.min(blocksForMaxTokens(maxTokens), blocksForMemory(budgetBytes, freeMemoryFraction));
    }

    private static void requireAtLeastOne(String field, int value) {
        if (value < 1) {
            throw new IllegalArgumentException(field + " must be >= 1, got " + value);
        }
    }
}
