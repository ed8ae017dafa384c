package io.rocketkv.core.engine;

import java.util.List;

/**
 * The log-probability of one prompt token given the tokens before it (vLLM's {@code prompt_logprobs} entry):
 * {@code log_softmax} of the raw logits at the previous position.
 *
 * @param tokenId the prompt token
 * @param logprob its log-probability, &le; 0
 * @param rank    its rank among the vocabulary at that position: 1 + the number of tokens with a larger logit
 * @param top     the k most likely tokens at that position, best first (ties: lower id first); empty for k = 0
 */
public record PromptLogprob(int tokenId, float logprob, int rank, List<TokenLogprob> top) {

    public PromptLogprob {
        if (tokenId < 0 || rank < 1) {
            throw new IllegalArgumentException("tokenId must be >= 0 and rank >= 1, got " + tokenId + " and " + rank);
        }
        top = List.copyOf(top);
    }
}
