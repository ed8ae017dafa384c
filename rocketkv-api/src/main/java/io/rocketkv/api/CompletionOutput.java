package io.rocketkv.api;

import java.util.List;

/**
 * One completion of a prompt.
 *
 * @param index        0 for the first completion
 * @param text         the generated text (cut before a stop string; an EOS or stop token's text is left out)
 * @param tokenIds     the generated token ids
 * @param logprobs     per generated token, when {@link SamplingParams#logprobs()} was set; else empty
 * @param finishReason {@code "stop"} (EOS, a stop token or a stop string) or {@code "length"}
 */
public record CompletionOutput(int index, String text, int[] tokenIds, List<TokenLogprobs> logprobs,
                               String finishReason) {

    public CompletionOutput {
        tokenIds = tokenIds.clone();
        logprobs = List.copyOf(logprobs);
    }

    @Override
    public int[] tokenIds() {
        return tokenIds.clone();
    }

    /**
     * The log-probability of a generated token under the model (log-softmax of the raw logits, before
     * temperature, top-k and top-p) and the most likely alternatives.
     *
     * @param tokenId the generated token
     * @param logprob its log-probability
     * @param top     the {@code logprobs} most likely tokens at that step, most likely first
     */
    public record TokenLogprobs(int tokenId, float logprob, List<Alternative> top) {
        public TokenLogprobs {
            top = List.copyOf(top);
        }
    }

    /** One alternative token and its log-probability. */
    public record Alternative(int tokenId, float logprob) {
    }
}
