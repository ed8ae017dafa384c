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
 */
public record GenerationRequest(int[] promptIds, SamplingOptions sampling, StopCriteria stop,
                                Consumer<TokenEvent> listener, Detokenizer detokenizer) {

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
