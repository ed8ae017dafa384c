package io.rocketkv.core.engine;

import io.rocketkv.core.sparse.RocketKvParams;
import java.util.ArrayList;
import java.util.List;

/**
 * Limits of the scheduler, the size of the KV-cache pool and the decode-step recording (CUDA graphs).
 *
 * @param maxBatchSize     most sequences in one step (prefill or decode)
 * @param maxNumTokens     most tokens in one prefill step; a prompt longer than this fails unless
 *                         {@code chunkedPrefill}, which splits it over several steps
 * @param maxSeqLen        most tokens of a sequence, prompt plus output; longer prompts fail, outputs stop
 *                         with finish reason {@code length} when they reach it
 * @param tokensPerBlock   slots per KV-cache block
 * @param numBlocks        blocks in the KV-cache pool (per layer)
 * @param rocketKv         RocketKV settings, or null for dense attention
 * @param graphBatchSizes  the decode batch sizes recorded once and replayed (CUDA graphs), ascending and
 *                         distinct, each in [1, maxBatchSize]; empty turns recording off. Backends that do
 *                         not record (the CPU) ignore it
 * @param graphPadding     whether a decode step whose size is not in {@code graphBatchSizes} is padded to the
 *                         next larger one (else it runs without a graph)
 * @param chunkedPrefill   {@code enable_chunked_prefill}: a prefill longer than {@code maxNumTokens} (a prompt, or
 *                         a preempted sequence's recompute) runs in chunks of at most {@code maxNumTokens} tokens
 *                         over several steps, each chunk attending the cached keys of the earlier ones
 * @param blockReuse       {@code enable_block_reuse}: full blocks are cached by the hash of their tokens and shared,
 *                         so a request whose prompt starts like an earlier one prefills only the rest (dense and
 *                         RocketKV; see {@code KvCacheManager}). The short constructors leave it off
 * @param printIterLog     {@code print_iter_log}: one INFO line per step ({@link IterationLog}). Off in the short
 *                         constructors
 */
public record EngineConfig(int maxBatchSize, int maxNumTokens, int maxSeqLen, int tokensPerBlock, int numBlocks,
                           RocketKvParams rocketKv, List<Integer> graphBatchSizes, boolean graphPadding,
                           boolean chunkedPrefill, boolean blockReuse, boolean printIterLog) {

    /** Without the per-step log. */
    public EngineConfig(int maxBatchSize, int maxNumTokens, int maxSeqLen, int tokensPerBlock, int numBlocks,
                        RocketKvParams rocketKv, List<Integer> graphBatchSizes, boolean graphPadding,
                        boolean chunkedPrefill, boolean blockReuse) {
        this(maxBatchSize, maxNumTokens, maxSeqLen, tokensPerBlock, numBlocks, rocketKv, graphBatchSizes, graphPadding,
                chunkedPrefill, blockReuse, false);
    }

    /** Without block reuse. */
    public EngineConfig(int maxBatchSize, int maxNumTokens, int maxSeqLen, int tokensPerBlock, int numBlocks,
                        RocketKvParams rocketKv, List<Integer> graphBatchSizes, boolean graphPadding,
                        boolean chunkedPrefill) {
        this(maxBatchSize, maxNumTokens, maxSeqLen, tokensPerBlock, numBlocks, rocketKv, graphBatchSizes, graphPadding,
                chunkedPrefill, false);
    }

    /** Without chunked prefill. */
    public EngineConfig(int maxBatchSize, int maxNumTokens, int maxSeqLen, int tokensPerBlock, int numBlocks,
                        RocketKvParams rocketKv, List<Integer> graphBatchSizes, boolean graphPadding) {
        this(maxBatchSize, maxNumTokens, maxSeqLen, tokensPerBlock, numBlocks, rocketKv, graphBatchSizes, graphPadding,
                false);
    }

    /** Dense attention, default graph buckets. */
    public EngineConfig(int maxBatchSize, int maxNumTokens, int maxSeqLen, int tokensPerBlock, int numBlocks) {
        this(maxBatchSize, maxNumTokens, maxSeqLen, tokensPerBlock, numBlocks, null);
    }

    /** Default graph buckets ({@link #defaultGraphBatchSizes}), padded. */
    public EngineConfig(int maxBatchSize, int maxNumTokens, int maxSeqLen, int tokensPerBlock, int numBlocks,
                        RocketKvParams rocketKv) {
        this(maxBatchSize, maxNumTokens, maxSeqLen, tokensPerBlock, numBlocks, rocketKv,
                defaultGraphBatchSizes(Math.max(1, maxBatchSize)), true);
    }

    public EngineConfig {
        positive("max_batch_size", maxBatchSize);
        positive("max_num_tokens", maxNumTokens);
        positive("max_seq_len", maxSeqLen);
        positive("tokens_per_block", tokensPerBlock);
        positive("kv cache blocks", numBlocks);
        graphBatchSizes = List.copyOf(graphBatchSizes);
        int prev = 0;
        for (int b : graphBatchSizes) {
            if (b <= prev || b > maxBatchSize) {
                throw new IllegalArgumentException("cuda graph batch sizes must be ascending, distinct and in [1, "
                        + "max_batch_size = " + maxBatchSize + "], got " + graphBatchSizes);
            }
            prev = b;
        }
    }

    /** The same limits with other graph settings (an empty list turns graphs off). */
    public EngineConfig withGraphs(List<Integer> batchSizes, boolean padding) {
        return new EngineConfig(maxBatchSize, maxNumTokens, maxSeqLen, tokensPerBlock, numBlocks, rocketKv, batchSizes,
                padding, chunkedPrefill, blockReuse, printIterLog);
    }

    /** The same limits with chunked prefill on or off. */
    public EngineConfig withChunkedPrefill(boolean on) {
        return new EngineConfig(maxBatchSize, maxNumTokens, maxSeqLen, tokensPerBlock, numBlocks, rocketKv,
                graphBatchSizes, graphPadding, on, blockReuse, printIterLog);
    }

    /** The same limits with block reuse (prefix caching) on or off. */
    public EngineConfig withBlockReuse(boolean on) {
        return new EngineConfig(maxBatchSize, maxNumTokens, maxSeqLen, tokensPerBlock, numBlocks, rocketKv,
                graphBatchSizes, graphPadding, chunkedPrefill, on, printIterLog);
    }

    /** These limits with the per-step log on or off. */
    public EngineConfig withIterLog(boolean on) {
        return new EngineConfig(maxBatchSize, maxNumTokens, maxSeqLen, tokensPerBlock, numBlocks, rocketKv,
                graphBatchSizes, graphPadding, chunkedPrefill, blockReuse, on);
    }

    /**
     * Blocks a sequence of {@code prefillTokens} tokens reserves at admission for the cache RocketKV stage 1 compacts
     * it into: with block reuse the prompt's dense blocks stay intact (they may be shared, and are cached for later
     * requests), so stage 1 writes the kept tokens into {@code ceil(prompt_budget / tokens_per_block)} blocks of the
     * sequence's own (copy-on-evict). 0 for dense attention, without reuse (stage 1 compacts in place), or when the
     * prefill fits the budget (nothing is evicted).
     */
    public int compactionBlocks(int prefillTokens) {
        if (rocketKv == null || !blockReuse || prefillTokens <= rocketKv.promptBudget()) {
            return 0;
        }
        return (rocketKv.promptBudget() + tokensPerBlock - 1) / tokensPerBlock;
    }

    /**
     * The most tokens of a sequence of {@code prefillTokens} tokens that may come from cached blocks: all but the
     * last (its logits give the next token), and with RocketKV evicting, all but the observation window (stage 1
     * needs the window's queries, which only a prefill computes).
     */
    public int maxCachedTokens(int prefillTokens) {
        if (rocketKv != null && prefillTokens > rocketKv.promptBudget()) {
            return prefillTokens - rocketKv.windowSize();
        }
        return prefillTokens - 1;
    }

    /** 1, 2, 4, 8, … below {@code maxBatchSize}, then {@code maxBatchSize} itself (vLLM's and TensorRT-LLM's shape). */
    public static List<Integer> defaultGraphBatchSizes(int maxBatchSize) {
        List<Integer> sizes = new ArrayList<>();
        for (int b = 1; b < maxBatchSize; b *= 2) {
            sizes.add(b);
        }
        sizes.add(maxBatchSize);
        return sizes;
    }

    /** The recorded batch size a decode step of {@code seqs} sequences runs as, or −1 to run it without a graph. */
    public int graphBucket(int seqs) {
        for (int b : graphBatchSizes) {
            if (b == seqs || (graphPadding && b > seqs)) {
                return b;
            }
        }
        return -1;
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
