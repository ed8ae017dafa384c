package io.rocketkv.api;

import io.rocketkv.core.engine.GenerationRequest;
import java.util.List;

/**
 * One streamed delta of one completion: the tokens generated since the previous chunk of that completion, one
 * token by default, {@code stream_interval} of them ({@link LlmArgs#streamInterval()}), fewer in the last chunk.
 *
 * @param index        the completion: 0 .. n − 1 ({@link SamplingParams#n()}); the chunks of several completions
 *                     interleave, each completion ending with its own last chunk
 * @param tokens       the chunk's tokens in order, each with its log-probability and, when
 *                     {@link SamplingParams#logprobs()} is set, the same most likely alternatives as the output's
 *                     {@link CompletionOutput#logprobs()} entry (else none); never empty
 * @param textDelta    the text these tokens completed (empty while a multi-byte character is incomplete; with stop
 *                     strings, the last characters wait until no stop string can begin there); the deltas of a
 *                     completion add up to its text
 * @param finishReason null until the completion's last chunk, then {@code "stop"} or {@code "length"}
 */
public record StreamChunk(int index, List<CompletionOutput.TokenLogprobs> tokens, String textDelta,
                          String finishReason) {

    public StreamChunk {
        tokens = List.copyOf(tokens);
        if (tokens.isEmpty() || index < 0) {
            throw new IllegalArgumentException("a chunk has at least one token and an index >= 0, got "
                    + tokens.size() + " tokens, index " + index);
        }
    }

    /** A chunk of one token of completion 0. */
    public StreamChunk(int tokenId, String textDelta, float logprob, String finishReason,
                       List<CompletionOutput.Alternative> top) {
        this(0, List.of(new CompletionOutput.TokenLogprobs(tokenId, logprob, top)), textDelta, finishReason);
    }

    /** A chunk of one token of completion 0, without alternatives. */
    public StreamChunk(int tokenId, String textDelta, float logprob, String finishReason) {
        this(tokenId, textDelta, logprob, finishReason, List.of());
    }

    /** The engine's token event as a chunk of one token of completion {@code index}, field by field. */
    static StreamChunk from(GenerationRequest.TokenEvent ev, int index) {
        return new StreamChunk(index, List.of(CompletionOutput.TokenLogprobs.from(ev.token())), ev.textDelta(),
                ev.finished() == null ? null : ev.finished().wireName());
    }

    /** As {@link #from(GenerationRequest.TokenEvent, int)} for completion 0. */
    static StreamChunk from(GenerationRequest.TokenEvent ev) {
        return from(ev, 0);
    }

    /** The chunk's last token (its only one at {@code stream_interval} 1). */
    public int tokenId() {
        return tokens.getLast().tokenId();
    }

    /** The log-probability of the chunk's last token. */
    public float logprob() {
        return tokens.getLast().logprob();
    }

    /** The alternatives at the chunk's last token (empty when {@code logprobs} was not set). */
    public List<CompletionOutput.Alternative> top() {
        return tokens.getLast().top();
    }

    /** The ids of the chunk's tokens, in order. */
    public int[] tokenIds() {
        return tokens.stream().mapToInt(CompletionOutput.TokenLogprobs::tokenId).toArray();
    }

    public boolean isLast() {
        return finishReason != null;
    }
}
