package io.rocketkv.api;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The log-probability of one prompt token given the tokens before it ({@link SamplingParams#promptLogprobs()};
 * vLLM's {@code prompt_logprobs} entry): {@code log_softmax} of the model's raw logits at the previous position.
 *
 * @param tokenId the prompt token
 * @param logprob its log-probability
 * @param rank    its rank at that position: 1 + the number of tokens the model found more likely
 * @param top     the {@code prompt_logprobs} most likely tokens at that position, most likely first
 */
public record PromptLogprob(int tokenId, float logprob, int rank, List<CompletionOutput.Alternative> top) {

    public PromptLogprob {
        top = List.copyOf(top);
    }

    /** The engine's entries as the api's, field by field: null when not asked for, the first entry null. */
    static List<PromptLogprob> from(List<io.rocketkv.core.engine.PromptLogprob> engine) {
        if (engine == null) {
            return null;
        }
        List<PromptLogprob> out = new ArrayList<>(engine.size());
        for (io.rocketkv.core.engine.PromptLogprob e : engine) {
            out.add(e == null ? null : new PromptLogprob(e.tokenId(), e.logprob(), e.rank(),
                    CompletionOutput.alternatives(e.top())));
        }
        return Collections.unmodifiableList(out);
    }
}
