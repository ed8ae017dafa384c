package io.rocketkv.api;

import io.rocketkv.core.engine.GenerationResult;
import io.rocketkv.core.engine.SampledToken;
import io.rocketkv.core.engine.TokenLogprob;
import java.util.ArrayList;
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

    /** The engine's result as the first completion, field by field; per-token logprobs when asked for. */
    static CompletionOutput from(GenerationResult r, boolean withLogprobs) {
        return from(r, withLogprobs, 0);
    }

    /** The engine's result as completion {@code index}. */
    static CompletionOutput from(GenerationResult r, boolean withLogprobs, int index) {
        List<TokenLogprobs> perToken = new ArrayList<>();
        if (withLogprobs) {
            for (SampledToken t : r.tokens()) {
                perToken.add(TokenLogprobs.from(t));
            }
        }
        Fields f = new Fields();
        f.index = index;
        f.text = r.text();
        f.tokenIds = r.outputIds();
        f.logprobs = perToken;
        f.finishReason = r.finishReason().wireName();
        return f.build();
    }

    /** The sum of the generated tokens' log-probabilities (how {@code best_of} ranks completions). */
    static double cumulativeLogprob(GenerationResult r) {
        double sum = 0;
        for (SampledToken t : r.tokens()) {
            sum += t.logprob();
        }
        return sum;
    }

    @Override
    public int[] tokenIds() {
        return tokenIds.clone();
    }

    /** A sampled token's alternatives as the api's, most likely first (empty when none were asked for). */
    static List<Alternative> alternatives(SampledToken t) {
        return alternatives(t.topLogprobs());
    }

    /** The engine's alternatives as the api's, in order. */
    static List<Alternative> alternatives(List<TokenLogprob> engine) {
        List<Alternative> top = new ArrayList<>(engine.size());
        for (TokenLogprob a : engine) {
            top.add(new Alternative(a.tokenId(), a.logprob()));
        }
        return top;
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

        static TokenLogprobs from(SampledToken t) {
            return new TokenLogprobs(t.tokenId(), t.logprob(), alternatives(t));
        }
    }

    /** One alternative token and its log-probability. */
    public record Alternative(int tokenId, float logprob) {
    }

    /** The fields, set by name; {@link #build} is the one call of the canonical constructor here. */
    private static final class Fields {
        int index;
        String text;
        int[] tokenIds;
        List<TokenLogprobs> logprobs;
        String finishReason;

        CompletionOutput build() {
            return new CompletionOutput(index, text, tokenIds, logprobs, finishReason);
        }
    }
}
