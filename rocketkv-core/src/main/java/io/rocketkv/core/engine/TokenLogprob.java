package io.rocketkv.core.engine;

/**
 * A token and its log-probability under the raw model distribution ({@code log_softmax(logits)}).
 *
 * @param tokenId  ≥ 0
 * @param logprob  ≤ 0 (−∞ for a masked token)
 */
public record TokenLogprob(int tokenId, float logprob) {

    public TokenLogprob {
        if (tokenId < 0) {
            throw new IllegalArgumentException("tokenId must be >= 0, got " + tokenId);
        }
        if (!(logprob <= 0.0f)) {
            throw new IllegalArgumentException("logprob must be <= 0, got " + logprob + " for token " + tokenId);
        }
    }
}
