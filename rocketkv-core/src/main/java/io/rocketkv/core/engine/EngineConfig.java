package io.rocketkv.core.engine;

import io.rocketkv.core.sparse.RocketKvParams;

/**
 * Limits of the scheduler and the size of the KV-cache pool.
 *
 * @param maxBatchSize   most sequences in one step (prefill or decode)
 * @param maxNumTokens   most tokens in one prefill step; a prompt longer than this cannot be scheduled
 *                       (there is no chunked prefill) and fails
 * @param maxSeqLen      most tokens of a sequence, prompt plus output; longer prompts fail, outputs stop
 *                       with finish reason {@code length} when they reach it
 * @param tokensPerBlock slots per KV-cache block
 * @param numBlocks      blocks in the KV-cache pool (per layer)
 * @param rocketKv       RocketKV settings, or null for dense attention
 */
public record EngineConfig(int maxBatchSize, int maxNumTokens, int maxSeqLen, int tokensPerBlock, int numBlocks,
                           RocketKvParams rocketKv) {

    /** Dense attention. */
    public EngineConfig(int maxBatchSize, int maxNumTokens, int maxSeqLen, int tokensPerBlock, int numBlocks) {
        this(maxBatchSize, maxNumTokens, maxSeqLen, tokensPerBlock, numBlocks, null);
    }

    public EngineConfig {
        positive("max_batch_size", maxBatchSize);
        positive("max_num_tokens", maxNumTokens);
        positive("max_seq_len", maxSeqLen);
        positive("tokens_per_block", tokensPerBlock);
        positive("kv cache blocks", numBlocks);
    }

    private static void positive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + " must be >= 1, got " + v);
        }
    }

    /** Tokens the whole pool holds. */
    public long poolTokens() {
        return (long) numBlocks * tokensPerBlock;
    }
}
