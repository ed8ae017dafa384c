package io.rocketkv.api;

/**
 * One streamed token.
 *
 * @param tokenId      the generated token
 * @param textDelta    the text this token completed (empty while a multi-byte character is incomplete; with
 *                     stop strings, the last characters wait until no stop string can begin there); the
 *                     deltas add up to the output's text
 * @param logprob      the token's log-probability
 * @param finishReason null until the last token, then {@code "stop"} or {@code "length"}
 */
public record StreamChunk(int tokenId, String textDelta, float logprob, String finishReason) {

    public boolean isLast() {
        return finishReason != null;
    }
}
