package io.rocketkv.api;

import io.rocketkv.core.engine.SamplingOptions;
import io.rocketkv.core.engine.StopCriteria;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * How to pick tokens for one request. Names and defaults follow TensorRT-LLM's {@code SamplingParams}:
 *
 * <ul>
 *   <li>{@code max_tokens} 32: tokens to generate at most, &ge; 1.</li>
 *   <li>{@code temperature} 1.0 (TensorRT-LLM: None, which samples at 1.0): &ge; 0 and finite;
 *       0 means greedy.</li>
 *   <li>{@code top_k} 0 (TensorRT-LLM: None): 0 disables top-k; 1 means greedy; &ge; 0.</li>
 *   <li>{@code top_p} 1.0 (TensorRT-LLM: None): nucleus mass, 0 &lt; p &le; 1; 1 disables it.</li>
 *   <li>{@code seed} unset: random seed for sampling; unset draws one per request.</li>
 *   <li>{@code stop} empty: strings that end generation when they appear in the output (not included in
 *       it); none may be empty.</li>
 *   <li>{@code stop_token_ids} empty: token ids that end generation (besides the end-of-sequence token);
 *       each &ge; 0.</li>
 *   <li>{@code ignore_eos} false: keep generating past the end-of-sequence token until max_tokens.</li>
 *   <li>{@code logprobs} unset: how many top log-probabilities to return per generated token, 0..20.</li>
 * </ul>
 *
 * <p>Decoding is greedy (argmax, deterministic) when {@code temperature == 0} or {@code topK == 1}, as in
 * TensorRT-LLM, and also for a temperature below {@code 1e-5} (vLLM's rule: so small a temperature only
 * sharpens onto the argmax, and a subnormal one would overflow {@code 1 / T}); see {@link #isGreedy()}.
 *
 * @param maxTokens    YAML/Python {@code max_tokens}
 * @param temperature  {@code temperature}
 * @param topK         {@code top_k}; 0 = disabled
 * @param topP         {@code top_p}
 * @param seed         {@code seed}; null when unset
 * @param stop         {@code stop}; never null, unmodifiable
 * @param stopTokenIds {@code stop_token_ids}; never null, unmodifiable
 * @param ignoreEos    {@code ignore_eos}
 * @param logprobs     {@code logprobs}; null when unset
 */
public record SamplingParams(
        int maxTokens,
        double temperature,
        int topK,
        double topP,
        Long seed,
        List<String> stop,
        List<Integer> stopTokenIds,
        boolean ignoreEos,
        Integer logprobs) {

    public static final int DEFAULT_MAX_TOKENS = 32;
    public static final double DEFAULT_TEMPERATURE = 1.0;
    public static final int DEFAULT_TOP_K = 0;
    public static final double DEFAULT_TOP_P = 1.0;
    public static final int MAX_LOGPROBS = 20;

    static final String PREFIX = "sampling_params.";

    public SamplingParams {
        if (maxTokens < 1) {
            throw ConfigException.invalid(PREFIX + "max_tokens", "maxTokens", ">= 1", maxTokens);
        }
        if (!(temperature >= 0.0 && Double.isFinite(temperature))) {
            throw ConfigException.invalid(PREFIX + "temperature", "temperature", ">= 0 and finite (0 = greedy)",
                    temperature);
        }
        if (topK < 0) {
            throw ConfigException.invalid(PREFIX + "top_k", "topK", ">= 0 (0 = disabled, 1 = greedy)", topK);
        }
        if (!(topP > 0.0 && topP <= 1.0)) {
            throw ConfigException.invalid(PREFIX + "top_p", "topP", "in (0, 1] (0 < p <= 1; 1 = disabled)", topP);
        }
        stop = stop == null ? List.of() : List.copyOf(checkStop(stop));
        stopTokenIds = stopTokenIds == null ? List.of() : List.copyOf(checkStopTokenIds(stopTokenIds));
        if (logprobs != null && (logprobs < 0 || logprobs > MAX_LOGPROBS)) {
            throw ConfigException.invalid(PREFIX + "logprobs", "logprobs", "in 0.." + MAX_LOGPROBS + " when set",
                    logprobs);
        }
    }

    private static List<String> checkStop(List<String> stop) {
        for (int i = 0; i < stop.size(); i++) {
            String s = stop.get(i);
            if (s == null || s.isEmpty()) {
                throw ConfigException.invalid(PREFIX + "stop[" + i + "]", "stop",
                        "a non-empty string", s);
            }
        }
        return stop;
    }

    private static List<Integer> checkStopTokenIds(List<Integer> ids) {
        for (int i = 0; i < ids.size(); i++) {
            Integer id = ids.get(i);
            if (id == null || id < 0) {
                throw ConfigException.invalid(PREFIX + "stop_token_ids[" + i + "]", "stopTokenIds",
                        "a token id >= 0", id);
            }
        }
        return ids;
    }

    /**
     * True when decoding is greedy: {@code temperature} below {@code 1e-5} (0 included) or {@code topK == 1}
     * (TensorRT-LLM's rule, with vLLM's threshold).
     */
    public boolean isGreedy() {
        return temperature < SamplingOptions.GREEDY_BELOW_TEMPERATURE || topK == 1;
    }

    /** The engine's sampling options: the same fields, by name (top_k 0 disables top-k in both). */
    SamplingOptions toSamplingOptions() {
        return SamplingOptions.builder()
                .temperature(temperature)
                .topK(topK)
                .topP(topP)
                .seed(seed)
                .logprobs(logprobs)
                .build();
    }

    /** The engine's stop criteria: these params' stop fields, by name, and the model's end-of-sequence ids. */
    StopCriteria toStopCriteria(List<Integer> eosTokenIds) {
        return StopCriteria.builder()
                .eosTokenIds(eosTokenIds)
                .stopTokenIds(stopTokenIds)
                .stopStrings(stop)
                .maxTokens(maxTokens)
                .ignoreEos(ignoreEos)
                .build();
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these params' values. */
    public Builder toBuilder() {
        return new Builder()
                .maxTokens(maxTokens)
                .temperature(temperature)
                .topK(topK)
                .topP(topP)
                .seed(seed)
                .stop(stop)
                .stopTokenIds(stopTokenIds)
                .ignoreEos(ignoreEos)
                .logprobs(logprobs);
    }

    /** Params with every default. */
    public static SamplingParams defaults() {
        return builder().build();
    }

    /** Mutable builder; {@link #build} validates. Starts from the defaults; null restores a default. */
    public static final class Builder {
        private int maxTokens = DEFAULT_MAX_TOKENS;
        private double temperature = DEFAULT_TEMPERATURE;
        private int topK = DEFAULT_TOP_K;
        private double topP = DEFAULT_TOP_P;
        private Long seed;
        private List<String> stop = List.of();
        private List<Integer> stopTokenIds = List.of();
        private boolean ignoreEos;
        private Integer logprobs;

        private Builder() {
        }

        public Builder maxTokens(int maxTokens) {
            this.maxTokens = maxTokens;
            return this;
        }

        /** Sampling temperature; 0 = greedy; null = 1.0. */
        public Builder temperature(Double temperature) {
            this.temperature = temperature == null ? DEFAULT_TEMPERATURE : temperature;
            return this;
        }

        /** Top-k cutoff; 0 or null = disabled; 1 = greedy. */
        public Builder topK(Integer topK) {
            this.topK = topK == null ? DEFAULT_TOP_K : topK;
            return this;
        }

        /** Nucleus mass; null = 1.0 (disabled). */
        public Builder topP(Double topP) {
            this.topP = topP == null ? DEFAULT_TOP_P : topP;
            return this;
        }

        /** Sampling seed; null = a fresh one per request. */
        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        /** Stop strings; null = none. The list is copied (and checked) at {@link #build}. */
        public Builder stop(List<String> stop) {
            this.stop = stop == null ? List.of() : new ArrayList<>(stop);
            return this;
        }

        public Builder stop(String... stop) {
            return stop(stop == null ? null : Arrays.asList(stop));
        }

        /** Stop token ids; null = none. */
        public Builder stopTokenIds(List<Integer> stopTokenIds) {
            this.stopTokenIds = stopTokenIds == null ? List.of() : new ArrayList<>(stopTokenIds);
            return this;
        }

        public Builder stopTokenIds(int... stopTokenIds) {
            return stopTokenIds(stopTokenIds == null ? null : Arrays.stream(stopTokenIds).boxed().toList());
        }

        public Builder ignoreEos(boolean ignoreEos) {
            this.ignoreEos = ignoreEos;
            return this;
        }

        /** Top log-probabilities to return per token, 0..20; null = none. */
        public Builder logprobs(Integer logprobs) {
            this.logprobs = logprobs;
            return this;
        }

        /** @throws ConfigException when a value is out of range */
        public SamplingParams build() {
            return new SamplingParams(maxTokens, temperature, topK, topP, seed, stop, stopTokenIds, ignoreEos,
                    logprobs);
        }
    }
}
