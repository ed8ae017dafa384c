package io.rocketkv.core.engine;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Adjustments to a request's logits before each draw, in the order {@link LogitsProcessor} applies them (vLLM's and
 * TensorRT-LLM's meanings):
 *
 * @param logitBias         added to the logit of each token id (OpenAI's {@code logit_bias}); empty for none
 * @param repetitionPenalty &gt; 0; 1 = off. Each token seen in the prompt or the output so far: a positive logit is
 *                          divided by it, a negative one multiplied (CTRL / Hugging Face)
 * @param presencePenalty   in [-2, 2]; 0 = off. Subtracted once from each token already generated
 * @param frequencyPenalty  in [-2, 2]; 0 = off. Subtracted once per earlier occurrence in the output
 * @param badTokenIds       token ids never sampled
 * @param badWords          token sequences never completed: the last token of one is banned when the output ends
 *                          with the others (a one-token word is always banned)
 * @param minP              in [0, 1]; 0 = off. After temperature, tokens less probable than {@code minP} times the
 *                          most probable one are dropped
 */
public record Penalties(Map<Integer, Float> logitBias, double repetitionPenalty, double presencePenalty,
                        double frequencyPenalty, List<Integer> badTokenIds, List<List<Integer>> badWords,
                        double minP) {

    /** No adjustment. */
    public static final Penalties NONE = new Penalties(Map.of(), 1.0, 0.0, 0.0, List.of(), List.of(), 0.0);

    public Penalties {
        logitBias = logitBias == null ? Map.of() : new LinkedHashMap<>(logitBias);
        for (Map.Entry<Integer, Float> e : logitBias.entrySet()) {
            if (e.getKey() == null || e.getKey() < 0 || e.getValue() == null || !Float.isFinite(e.getValue())) {
                throw new IllegalArgumentException("logitBias entries must map a token id >= 0 to a finite bias, got "
                        + e.getKey() + " -> " + e.getValue());
            }
        }
        logitBias = Map.copyOf(logitBias);
        if (!(repetitionPenalty > 0.0 && Double.isFinite(repetitionPenalty))) {
            throw new IllegalArgumentException("repetitionPenalty must be > 0 and finite (1 = off), got "
                    + repetitionPenalty);
        }
        checkRange("presencePenalty", presencePenalty, -2.0, 2.0);
        checkRange("frequencyPenalty", frequencyPenalty, -2.0, 2.0);
        checkRange("minP", minP, 0.0, 1.0);
        badTokenIds = badTokenIds == null ? List.of() : List.copyOf(badTokenIds);
        for (int id : badTokenIds) {
            if (id < 0) {
                throw new IllegalArgumentException("badTokenIds must be token ids >= 0, got " + id);
            }
        }
        List<List<Integer>> words = new ArrayList<>();
        for (List<Integer> w : badWords == null ? List.<List<Integer>>of() : badWords) {
            if (w == null || w.isEmpty() || w.stream().anyMatch(id -> id == null || id < 0)) {
                throw new IllegalArgumentException("badWords must be non-empty sequences of token ids >= 0, got " + w);
            }
            words.add(List.copyOf(w));
        }
        badWords = List.copyOf(words);
    }

    private static void checkRange(String name, double v, double lo, double hi) {
        if (!(v >= lo && v <= hi)) {
            throw new IllegalArgumentException(name + " must be in [" + lo + ", " + hi + "], got " + v);
        }
    }

    /** True when nothing is adjusted. */
    public boolean isNone() {
        return logitBias.isEmpty() && repetitionPenalty == 1.0 && presencePenalty == 0.0 && frequencyPenalty == 0.0
                && badTokenIds.isEmpty() && badWords.isEmpty() && minP == 0.0;
    }
}
