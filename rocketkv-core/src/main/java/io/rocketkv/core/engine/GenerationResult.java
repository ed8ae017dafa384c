package io.rocketkv.core.engine;

import java.util.List;

/**
 * What a finished request produced.
 *
 * @param promptIds    the prompt's token ids
 * @param outputIds    the generated ids (a stop token or EOS that ended generation is included, as in
 *                     TensorRT-LLM; a stop string's tokens are included, its text is cut)
 * @param text         the generated text, cut before a stop string; an EOS or stop token's text is left out
 * @param tokens       per generated token: its log-probability and top alternatives
 * @param finishReason {@code stop} or {@code length}
 * @param metrics      counts and timings
 */
public record GenerationResult(int[] promptIds, int[] outputIds, String text, List<SampledToken> tokens,
                               FinishReason finishReason, Metrics metrics) {

    /**
     * @param promptTokens     tokens in the prompt
     * @param generatedTokens  tokens generated
     * @param prefillNanos     time of the prefill step(s) that included this request
     * @param decodeNanos      time of the decode steps that included this request
     * @param timeToFirstNanos from submission to the first generated token
     * @param kvCacheBytesPeak most KV-cache bytes this request held at once
     * @param preemptions      times the request was preempted and recomputed
     * @param cacheTokens      tokens each KV head of each layer held at the end (prompt + output under
     *                         dense attention; at most prompt_budget + output with RocketKV)
     * @param ktCacheBytesPeak most KT-cache bytes held at once (0 for dense attention)
     * @param denseKvCacheBytes KV-cache bytes dense attention would hold for the whole sequence
     */
    public record Metrics(int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos,
                          long timeToFirstNanos, long kvCacheBytesPeak, int preemptions, int cacheTokens,
                          long ktCacheBytesPeak, long denseKvCacheBytes) {
    }
}
