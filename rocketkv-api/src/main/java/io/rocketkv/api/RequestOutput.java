package io.rocketkv.api;

import java.util.List;

/**
 * The result of one prompt (TensorRT-LLM's {@code RequestOutput}).
 *
 * @param prompt         the prompt text
 * @param promptTokenIds the prompt's token ids, special tokens included
 * @param outputs        the completions (one per request today)
 * @param metrics        counts, timings and memory
 */
public record RequestOutput(String prompt, int[] promptTokenIds, List<CompletionOutput> outputs, Metrics metrics) {

    public RequestOutput {
        promptTokenIds = promptTokenIds.clone();
        outputs = List.copyOf(outputs);
    }

    @Override
    public int[] promptTokenIds() {
        return promptTokenIds.clone();
    }

    /** The first (today the only) completion. */
    public CompletionOutput output() {
        return outputs.getFirst();
    }

    /**
     * @param promptTokens    tokens in the prompt
     * @param generatedTokens tokens generated
     * @param prefillSeconds  time of the prefill step(s) that included this request
     * @param decodeSeconds   time of the decode steps that included this request
     * @param timeToFirstTokenSeconds from submission to the first generated token
     * @param kvCacheBytes    most KV-cache bytes the request held at once
     * @param cacheTokens     tokens kept per KV head of every layer at the end (with RocketKV at most
     *                        prompt_budget + generated tokens; under dense attention all tokens)
     * @param ktCacheBytes    most KT-cache bytes held at once (0 under dense attention)
     * @param denseKvCacheBytes KV-cache bytes dense attention would hold for the same sequence
     * @param preemptions     times the request was preempted (its cache freed) and recomputed
     */
    public record Metrics(int promptTokens, int generatedTokens, double prefillSeconds, double decodeSeconds,
                          double timeToFirstTokenSeconds, long kvCacheBytes, int cacheTokens, long ktCacheBytes,
                          long denseKvCacheBytes, int preemptions) {
    }
}
