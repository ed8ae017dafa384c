package io.rocketkv.core.testing;

import io.rocketkv.core.engine.SampledToken;
import io.rocketkv.core.engine.Sampler;
import io.rocketkv.core.engine.SamplingOptions;

/**
 * What {@code Kernels.greedyRows} must give, from the engine's own {@link Sampler} at temperature 0: per row the
 * token, its log-probability and the top-k pairs; −1 where the sampler refuses the row (NaN, +Infinity, only
 * −Infinity).
 */
public record GreedyReference(int[] ids, float[] logprobs, int[] topIds, float[] topLogprobs) {

    /** The sampler's greedy picks of {@code rows} rows of {@code logits} ([rows, vocab], row-major). */
    public static GreedyReference of(float[] logits, int rows, int vocab, int topK) {
        Sampler greedy = new Sampler(new SamplingOptions(0.0, 0, 1.0, null, topK));
        int[] ids = new int[rows];
        float[] logprobs = new float[rows];
        int[] topIds = new int[rows * topK];
        float[] topLogprobs = new float[rows * topK];
        for (int r = 0; r < rows; r++) {
            try {
                SampledToken t = greedy.sample(logits, r * vocab, vocab);
                ids[r] = t.tokenId();
                logprobs[r] = t.logprob();
                for (int j = 0; j < topK; j++) {
                    topIds[r * topK + j] = t.topLogprobs().get(j).tokenId();
                    topLogprobs[r * topK + j] = t.topLogprobs().get(j).logprob();
                }
            } catch (IllegalArgumentException e) {
                ids[r] = -1;
            }
        }
        return new GreedyReference(ids, logprobs, topIds, topLogprobs);
    }
}
