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
 * @param promptLogprobs null unless the request asked ({@link GenerationRequest#promptLogprobs()}); else one entry
 *                     per prompt token, the first null (no token precedes it), as vLLM's {@code prompt_logprobs}
 */
public record GenerationResult(int[] promptIds, int[] outputIds, String text, List<SampledToken> tokens,
                               FinishReason finishReason, Metrics metrics, List<PromptLogprob> promptLogprobs) {

    /** Without prompt log-probabilities. */
    public GenerationResult(int[] promptIds, int[] outputIds, String text, List<SampledToken> tokens,
                            FinishReason finishReason, Metrics metrics) {
        this(promptIds, outputIds, text, tokens, finishReason, metrics, null);
    }

    /**
     * Counts and timings of one request; build with {@link #builder()}, which names every field.
     *
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
     * @param cachedPromptTokens prompt tokens served from cached blocks (block reuse) at the request's first
     *                         admission, not prefilled (vLLM's {@code num_cached_tokens}); 0 without reuse
     */
    public record Metrics(int promptTokens, int generatedTokens, long prefillNanos, long decodeNanos,
                          long timeToFirstNanos, long kvCacheBytesPeak, int preemptions, int cacheTokens,
                          long ktCacheBytesPeak, long denseKvCacheBytes, int cachedPromptTokens) {

        /** A builder with every count and time 0. */
        public static Builder builder() {
            return new Builder();
        }

        /** Mutable builder; every field starts at 0. */
        public static final class Builder {
            private int promptTokens;
            private int generatedTokens;
            private long prefillNanos;
            private long decodeNanos;
            private long timeToFirstNanos;
            private long kvCacheBytesPeak;
            private int preemptions;
            private int cacheTokens;
            private long ktCacheBytesPeak;
            private long denseKvCacheBytes;
            private int cachedPromptTokens;

            private Builder() {
            }

            public Builder promptTokens(int promptTokens) {
                this.promptTokens = promptTokens;
                return this;
            }

            public Builder generatedTokens(int generatedTokens) {
                this.generatedTokens = generatedTokens;
                return this;
            }

            public Builder prefillNanos(long prefillNanos) {
                this.prefillNanos = prefillNanos;
                return this;
            }

            public Builder decodeNanos(long decodeNanos) {
                this.decodeNanos = decodeNanos;
                return this;
            }

            public Builder timeToFirstNanos(long timeToFirstNanos) {
                this.timeToFirstNanos = timeToFirstNanos;
                return this;
            }

            public Builder kvCacheBytesPeak(long kvCacheBytesPeak) {
                this.kvCacheBytesPeak = kvCacheBytesPeak;
                return this;
            }

            public Builder preemptions(int preemptions) {
                this.preemptions = preemptions;
                return this;
            }

            public Builder cacheTokens(int cacheTokens) {
                this.cacheTokens = cacheTokens;
                return this;
            }

            public Builder ktCacheBytesPeak(long ktCacheBytesPeak) {
                this.ktCacheBytesPeak = ktCacheBytesPeak;
                return this;
            }

            public Builder denseKvCacheBytes(long denseKvCacheBytes) {
                this.denseKvCacheBytes = denseKvCacheBytes;
                return this;
            }

            public Builder cachedPromptTokens(int cachedPromptTokens) {
                this.cachedPromptTokens = cachedPromptTokens;
                return this;
            }

            public Metrics build() {
                return new Metrics(promptTokens, generatedTokens, prefillNanos, decodeNanos, timeToFirstNanos,
                        kvCacheBytesPeak, preemptions, cacheTokens, ktCacheBytesPeak, denseKvCacheBytes,
                        cachedPromptTokens);
            }
        }
    }
}
