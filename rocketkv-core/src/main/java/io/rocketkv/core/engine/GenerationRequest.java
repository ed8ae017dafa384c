package io.rocketkv.core.engine;

import java.util.function.Consumer;

/**
 * One prompt to continue.
 *
 * @param promptIds the prompt's token ids (special tokens already added)
 * @param sampling  how to pick each token
 * @param stop      when to stop
 * @param listener  called on the engine thread after every generated token (streaming), or null
 * @param detokenizer how this request's output ids become text, or null for the engine's (e.g. one that keeps
 *                    special tokens)
 * @param promptLogprobs null, or k &ge; 0: the prefill also computes the logits of every prompt position and the
 *                    result carries, for each prompt token after the first, its log-probability, its rank and the k
 *                    most likely alternatives ({@link GenerationResult#promptLogprobs()}). Such a request takes no
 *                    cached blocks (block reuse): its whole prompt is prefilled, since a cached prefix has no
 *                    hidden states to compute logits from
 */
public record GenerationRequest(int[] promptIds, SamplingOptions sampling, StopCriteria stop,
                                Consumer<TokenEvent> listener, Detokenizer detokenizer, Integer promptLogprobs) {

    /** Without prompt log-probabilities. */
    public GenerationRequest(int[] promptIds, SamplingOptions sampling, StopCriteria stop,
                             Consumer<TokenEvent> listener, Detokenizer detokenizer) {
        this(promptIds, sampling, stop, listener, detokenizer, null);
    }

    /** With the engine's detokenizer. */
    public GenerationRequest(int[] promptIds, SamplingOptions sampling, StopCriteria stop,
                             Consumer<TokenEvent> listener) {
        this(promptIds, sampling, stop, listener, null);
    }

    public GenerationRequest {
        if (promptIds == null || promptIds.length == 0) {
            throw new IllegalArgumentException("the prompt must have at least one token");
        }
        if (sampling == null || stop == null) {
            throw new IllegalArgumentException("sampling and stop must not be null");
        }
        if (promptLogprobs != null && promptLogprobs < 0) {
            throw new IllegalArgumentException("promptLogprobs must be null or >= 0, got " + promptLogprobs);
        }
        promptIds = promptIds.clone();
    }

    /**
     * One streamed token.
     *
     * @param token    the token, its log-probability and alternatives
     * @param textDelta the output text this token completed: empty while a UTF-8 sequence is incomplete, and the
     *                 last (longest stop string − 1) characters wait for the next token, as a stop string may
     *                 begin there; the deltas of all events add up to {@link GenerationResult#text()}
     * @param finished the finish reason when this was the last token, else null
     */
    public record TokenEvent(SampledToken token, String textDelta, FinishReason finished) {
    }
}
