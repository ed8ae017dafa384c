package io.rocketkv.api;

import java.util.List;
import java.util.Map;

/**
 * The range rules of {@link SamplingParams}' fields, each failure a {@link ConfigException} naming the field as
 * {@code sampling_params.<key>} and in Java, the value and the allowed range (vLLM's and OpenAI's ranges where
 * TensorRT-LLM states none).
 */
final class SamplingChecks {

    static final String PREFIX = "sampling_params.";
    /** OpenAI's bound on one logit bias. */
    static final float MAX_LOGIT_BIAS = 100f;

    private SamplingChecks() {
    }

    static void atLeast(String key, String javaName, int min, int value) {
        if (value < min) {
            throw ConfigException.invalid(PREFIX + key, javaName, ">= " + min, value);
        }
    }

    static void rangeIfSet(String key, String javaName, double lo, double hi, Double value) {
        if (value != null && !(value >= lo && value <= hi)) {
            throw ConfigException.invalid(PREFIX + key, javaName, "in [" + lo + ", " + hi + "] when set", value);
        }
    }

    static void topLogprobs(String key, String javaName, Integer value) {
        if (value != null && (value < 0 || value > SamplingParams.MAX_LOGPROBS)) {
            throw ConfigException.invalid(PREFIX + key, javaName, "in 0.." + SamplingParams.MAX_LOGPROBS + " when set",
                    value);
        }
    }

    static List<String> nonEmptyStrings(String key, String javaName, List<String> values) {
        for (int i = 0; i < values.size(); i++) {
            String s = values.get(i);
            if (s == null || s.isEmpty()) {
                throw ConfigException.invalid(PREFIX + key + "[" + i + "]", javaName, "a non-empty string", s);
            }
        }
        return List.copyOf(values);
    }

    static List<Integer> tokenIds(String key, String javaName, List<Integer> ids) {
        for (int i = 0; i < ids.size(); i++) {
            Integer id = ids.get(i);
            if (id == null || id < 0) {
                throw ConfigException.invalid(PREFIX + key + "[" + i + "]", javaName, "a token id >= 0", id);
            }
        }
        return List.copyOf(ids);
    }

    static Map<Integer, Float> logitBias(Map<Integer, Float> bias) {
        for (Map.Entry<Integer, Float> e : bias.entrySet()) {
            if (e.getKey() == null || e.getKey() < 0) {
                throw ConfigException.invalid(PREFIX + "logit_bias", "logitBias", "keyed by token ids >= 0",
                        e.getKey());
            }
            Float v = e.getValue();
            if (v == null || !(v >= -MAX_LOGIT_BIAS && v <= MAX_LOGIT_BIAS)) {
                throw ConfigException.invalid(PREFIX + "logit_bias[" + e.getKey() + "]", "logitBias",
                        "a bias in [-100, 100]", v);
            }
        }
        return Map.copyOf(bias);
    }

    /**
     * Every token id of {@code params} that is {@code >= vocabSize} (logit bias and banned ids), as a
     * {@link ConfigException}; the LLM calls this with its model's vocabulary.
     */
    static void idsWithinVocabulary(SamplingParams params, int vocabSize) {
        for (int id : params.logitBias().keySet()) {
            if (id >= vocabSize) {
                throw new ConfigException(PREFIX + "logit_bias", PREFIX + "logit_bias (logitBias) token id " + id
                        + " is outside the model's vocabulary (ids 0.." + (vocabSize - 1) + ")");
            }
        }
        for (int id : params.badTokenIds()) {
            if (id >= vocabSize) {
                throw new ConfigException(PREFIX + "bad_token_ids", PREFIX + "bad_token_ids (badTokenIds) token id "
                        + id + " is outside the model's vocabulary (ids 0.." + (vocabSize - 1) + ")");
            }
        }
    }
}
