package io.rocketkv.api;

import io.rocketkv.core.engine.GenerationRequest;
import java.util.List;

/**
 * One streamed token.
 *
 * @param tokenId      the generated token
 * @param textDelta    the text this token completed (empty while a multi-byte character is incomplete; with
 *                     stop strings, the last characters wait until no stop string can begin there); the
 *                     deltas add up to the output's text
 * @param logprob      the token's log-probability
 * @param finishReason null until the last token, then {@code "stop"} or {@code "length"}
 * @param top          the {@link SamplingParams#logprobs()} most likely tokens at this step, most likely first,
 *                     the same as the output's {@link CompletionOutput.TokenLogprobs#top()} for this token;
 *                     empty when {@code logprobs} was not set
 */
public record StreamChunk(int tokenId, String textDelta, float logprob, String finishReason,
                          List<CompletionOutput.Alternative> top) {

    public StreamChunk {
        top = List.copyOf(top);
    }

    /** A chunk without alternatives. */
    public StreamChunk(int tokenId, String textDelta, float logprob, String finishReason) {
        this(tokenId, textDelta, logprob, finishReason, List.of());
    }

    /** The engine's token event as the api's, field by field. */
    static StreamChunk from(GenerationRequest.TokenEvent ev) {
        Fields f = new Fields();
        f.tokenId = ev.token().tokenId();
        f.textDelta = ev.textDelta();
        f.logprob = ev.token().logprob();
        f.finishReason = ev.finished() == null ? null : ev.finished().wireName();
        f.top = CompletionOutput.alternatives(ev.token());
        return f.build();
    }

    public boolean isLast() {
        return finishReason != null;
    }

    /** The fields, set by name; {@link #build} is the one call of the canonical constructor here. */
    private static final class Fields {
        int tokenId;
        String textDelta;
        float logprob;
        String finishReason;
        List<CompletionOutput.Alternative> top;

        StreamChunk build() {
            return new StreamChunk(tokenId, textDelta, logprob, finishReason, top);
        }
    }
}
