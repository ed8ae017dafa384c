package io.rocketkv.core.engine;

import java.util.List;

/**
 * What {@link Sampler#sample} picked.
 *
 * @param tokenId     the chosen token, ≥ 0
 * @param logprob     its log-probability under the raw logits (before temperature, top-k and top-p)
 * @param topLogprobs the requested number of most probable tokens, best first (ties: lower id first), each with its
 *                    raw log-probability; empty when none were requested
 */
public record SampledToken(int tokenId, float logprob, List<TokenLogprob> topLogprobs) {

    public SampledToken {
        if (tokenId < 0) {
            throw new IllegalArgumentException("tokenId must be >= 0, got " + tokenId);
        }
        if (topLogprobs == null) {
            throw new IllegalArgumentException("topLogprobs must not be null (use List.of())");
        }
        topLogprobs = List.copyOf(topLogprobs);
    }
}
