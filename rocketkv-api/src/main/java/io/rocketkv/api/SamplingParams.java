package io.rocketkv.api;

import static io.rocketkv.api.SamplingChecks.PREFIX;

import io.rocketkv.core.engine.Penalties;
import io.rocketkv.core.engine.SamplingOptions;
import io.rocketkv.core.engine.StopCriteria;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How to pick tokens for one request. Names, defaults and meanings follow TensorRT-LLM's {@code SamplingParams}
 * (ranges from vLLM and OpenAI where TensorRT-LLM states none); docs/api.md has the table.
 *
 * <p><b>Greedy by default</b>, as in TensorRT-LLM: when none of {@code temperature}, {@code top_k} and {@code top_p}
 * is set the request decodes greedily (argmax). Setting any one samples, the others taking 1.0, 0 (off) and 1.0 (off).
 * Decoding is also greedy for {@code temperature} below 1e-5 (0 included), {@code top_k == 1} and {@code top_p == 0};
 * see {@link #isGreedy()}.
 *
 * <p>{@code n} completions are returned per prompt, the best {@code n} by cumulative log-probability of
 * {@code best_of} (default n) sampled ones. Penalties, {@code min_p}, {@code logit_bias}, bad words and ids and
 * {@code min_tokens} adjust each logit row on the host before the draw (the engine's {@code LogitsProcessor}, on
 * the CPU and CUDA backends alike, as all sampling runs on the host); reported log-probabilities stay those of the
 * model's raw logits.
 *
 * @param maxTokens              {@code max_tokens} (default 32), &ge; 1
 * @param temperature            {@code temperature}, &ge; 0 and finite; 0 = greedy (unset: see above)
 * @param topK                   {@code top_k}, &ge; 0; 0 = off, 1 = greedy
 * @param topP                   {@code top_p}, in [0, 1]; 1 = off, 0 = greedy
 * @param seed                   {@code seed}; null draws one per request (completion i of n uses seed + i)
 * @param stop                   {@code stop} strings, each non-empty; never null
 * @param stopTokenIds           {@code stop_token_ids}, each &ge; 0; never null
 * @param ignoreEos              {@code ignore_eos}
 * @param logprobs               {@code logprobs}: top log-probabilities per generated token, 0..20; null = none
 * @param n                      {@code n} (default 1): completions returned, &ge; 1
 * @param bestOf                 {@code best_of}: completions sampled, &ge; n; null = n
 * @param minTokens              {@code min_tokens} (default 0): EOS and stop ids are masked until this many
 *                               tokens were generated; &le; max_tokens
 * @param repetitionPenalty      {@code repetition_penalty} &gt; 0 (1 = off) over prompt and output tokens; null = off
 * @param presencePenalty        {@code presence_penalty} in [-2, 2] over output tokens; null = off
 * @param frequencyPenalty       {@code frequency_penalty} in [-2, 2] over output tokens; null = off
 * @param minP                   {@code min_p} in [0, 1]; null = off
 * @param logitBias              {@code logit_bias}: token id to a bias in [-100, 100] added to its logit; never null
 * @param bad                    {@code bad} words: strings whose tokens (encoded as written and after a space) are
 *                               never generated; never null
 * @param badTokenIds            {@code bad_token_ids}: ids never generated; never null
 * @param includeStopStrInOutput {@code include_stop_str_in_output}: keep a matched stop string in the text
 * @param addSpecialTokens       {@code add_special_tokens} (default true): the tokenizer adds BOS (and the like)
 * @param skipSpecialTokens      {@code skip_special_tokens} (default true): special tokens give no output text
 * @param promptLogprobs         {@code prompt_logprobs}, 0..20 when set: the output's
 *                               {@link RequestOutput#promptLogprobs()} gives each prompt token's log-probability,
 *                               rank and this many alternatives; such a request prefills its whole prompt (it
 *                               shares no cached blocks of block reuse)
 * @param truncatePromptTokens   {@code truncate_prompt_tokens}, &ge; 1: only the prompt's last k tokens are used
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
        Integer logprobs,
        int n,
        Integer bestOf,
        int minTokens,
        Double repetitionPenalty,
        Double presencePenalty,
        Double frequencyPenalty,
        Double minP,
        Map<Integer, Float> logitBias,
        List<String> bad,
        List<Integer> badTokenIds,
        boolean includeStopStrInOutput,
        boolean addSpecialTokens,
        boolean skipSpecialTokens,
        Integer promptLogprobs,
        Integer truncatePromptTokens) {

    public static final int DEFAULT_MAX_TOKENS = 32;
    /** The temperature when sampling and {@code temperature} is unset. */
    public static final double DEFAULT_TEMPERATURE = 1.0;
    public static final int DEFAULT_TOP_K = 0;
    public static final double DEFAULT_TOP_P = 1.0;
    public static final int MAX_LOGPROBS = 20;

    public SamplingParams {
        SamplingChecks.atLeast("max_tokens", "maxTokens", 1, maxTokens);
        if (!(temperature >= 0.0 && Double.isFinite(temperature))) {
            throw ConfigException.invalid(PREFIX + "temperature", "temperature", ">= 0 and finite (0 = greedy)",
                    temperature);
        }
        if (topK < 0) {
            throw ConfigException.invalid(PREFIX + "top_k", "topK", ">= 0 (0 = disabled, 1 = greedy)", topK);
        }
        if (!(topP >= 0.0 && topP <= 1.0)) {
            throw ConfigException.invalid(PREFIX + "top_p", "topP", "in [0, 1] (1 = disabled, 0 = greedy)", topP);
        }
        stop = SamplingChecks.nonEmptyStrings("stop", "stop", stop == null ? List.of() : stop);
        stopTokenIds = SamplingChecks.tokenIds("stop_token_ids", "stopTokenIds",
                stopTokenIds == null ? List.of() : stopTokenIds);
        SamplingChecks.topLogprobs("logprobs", "logprobs", logprobs);
        SamplingChecks.atLeast("n", "n", 1, n);
        if (bestOf != null && bestOf < n) {
            throw ConfigException.invalid(PREFIX + "best_of", "bestOf", ">= n (" + n + ") when set", bestOf);
        }
        SamplingChecks.atLeast("min_tokens", "minTokens", 0, minTokens);
        if (minTokens > maxTokens) {
            throw ConfigException.invalid(PREFIX + "min_tokens", "minTokens", "<= max_tokens (" + maxTokens + ")",
                    minTokens);
        }
        if (repetitionPenalty != null && !(repetitionPenalty > 0.0 && Double.isFinite(repetitionPenalty))) {
            throw ConfigException.invalid(PREFIX + "repetition_penalty", "repetitionPenalty",
                    "> 0 and finite when set (1 = off)", repetitionPenalty);
        }
        SamplingChecks.rangeIfSet("presence_penalty", "presencePenalty", -2.0, 2.0, presencePenalty);
        SamplingChecks.rangeIfSet("frequency_penalty", "frequencyPenalty", -2.0, 2.0, frequencyPenalty);
        SamplingChecks.rangeIfSet("min_p", "minP", 0.0, 1.0, minP);
        logitBias = SamplingChecks.logitBias(logitBias == null ? Map.of() : logitBias);
        bad = SamplingChecks.nonEmptyStrings("bad", "bad", bad == null ? List.of() : bad);
        badTokenIds = SamplingChecks.tokenIds("bad_token_ids", "badTokenIds",
                badTokenIds == null ? List.of() : badTokenIds);
        SamplingChecks.topLogprobs("prompt_logprobs", "promptLogprobs", promptLogprobs);
        if (truncatePromptTokens != null && truncatePromptTokens < 1) {
            throw ConfigException.invalid(PREFIX + "truncate_prompt_tokens", "truncatePromptTokens", ">= 1 when set",
                    truncatePromptTokens);
        }
        if ((bestOf != null ? bestOf : n) > 1 && greedy(temperature, topK, topP)) {
            throw new ConfigException(PREFIX + "n", PREFIX + "n (n) " + n + " with best_of " + bestOf + " needs"
                    + " sampling: greedy decoding gives every completion the same tokens; set temperature, top_k or"
                    + " top_p (e.g. temperature 1.0)");
        }
    }

    /** Completions sampled: {@code best_of}, or {@code n} when it is unset. */
    public int numSampled() {
        return bestOf != null ? bestOf : n;
    }

    /**
     * True when decoding is greedy: {@code temperature} below {@code 1e-5} (0 included), {@code topK == 1} or
     * {@code topP == 0} (TensorRT-LLM's rules, with vLLM's threshold).
     */
    public boolean isGreedy() {
        return greedy(temperature, topK, topP);
    }

    private static boolean greedy(double temperature, int topK, double topP) {
        return temperature < SamplingOptions.GREEDY_BELOW_TEMPERATURE || topK == 1 || topP == 0.0;
    }

    /**
     * The engine's sampling options for completion {@code index} (its seed is {@code seed + index}), with the
     * {@code bad} words already encoded to token sequences.
     */
    SamplingOptions toSamplingOptions(int index, List<List<Integer>> badWordIds) {
        SamplingOptions.Builder b = SamplingOptions.builder()
                .seed(seed == null ? null : seed + index)
                .logprobs(logprobs)
                .penalties(new Penalties(logitBias, orElse(repetitionPenalty, 1.0), orElse(presencePenalty, 0.0),
                        orElse(frequencyPenalty, 0.0), badTokenIds, badWordIds, orElse(minP, 0.0)));
        if (isGreedy()) {
            return b.temperature(0.0).build();
        }
        return b.temperature(temperature).topK(topK).topP(topP).build();
    }

    /** As {@link #toSamplingOptions(int, List)} for the first completion and no bad words. */
    SamplingOptions toSamplingOptions() {
        return toSamplingOptions(0, List.of());
    }

    private static double orElse(Double v, double otherwise) {
        return v == null ? otherwise : v;
    }

    /** The engine's stop criteria: these params' stop fields, by name, and the model's end-of-sequence ids. */
    StopCriteria toStopCriteria(List<Integer> eosTokenIds) {
        return StopCriteria.builder()
                .eosTokenIds(eosTokenIds)
                .stopTokenIds(stopTokenIds)
                .stopStrings(stop)
                .maxTokens(maxTokens)
                .ignoreEos(ignoreEos)
                .minTokens(minTokens)
                .includeStopString(includeStopStrInOutput)
                .build();
    }

    /** A builder holding the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these params' values (temperature, top_k and top_p as set: the result is equal). */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.maxTokens = maxTokens;
        b.temperature = temperature;
        b.topK = topK;
        b.topP = topP;
        b.seed = seed;
        b.stop = stop;
        b.stopTokenIds = stopTokenIds;
        b.ignoreEos = ignoreEos;
        b.logprobs = logprobs;
        b.n = n;
        b.bestOf = bestOf;
        b.minTokens = minTokens;
        b.repetitionPenalty = repetitionPenalty;
        b.presencePenalty = presencePenalty;
        b.frequencyPenalty = frequencyPenalty;
        b.minP = minP;
        b.logitBias = logitBias;
        b.bad = bad;
        b.badTokenIds = badTokenIds;
        b.includeStopStrInOutput = includeStopStrInOutput;
        b.addSpecialTokens = addSpecialTokens;
        b.skipSpecialTokens = skipSpecialTokens;
        b.promptLogprobs = promptLogprobs;
        b.truncatePromptTokens = truncatePromptTokens;
        return b;
    }

    /** Params with every default (greedy, 32 tokens). */
    public static SamplingParams defaults() {
        return builder().build();
    }

    /** Mutable builder; {@link #build} validates. Starts from the defaults; null restores a default (unset). */
    public static final class Builder {
        private int maxTokens = DEFAULT_MAX_TOKENS;
        private Double temperature;
        private Integer topK;
        private Double topP;
        private Long seed;
        private List<String> stop = List.of();
        private List<Integer> stopTokenIds = List.of();
        private boolean ignoreEos;
        private Integer logprobs;
        private int n = 1;
        private Integer bestOf;
        private int minTokens;
        private Double repetitionPenalty;
        private Double presencePenalty;
        private Double frequencyPenalty;
        private Double minP;
        private Map<Integer, Float> logitBias = Map.of();
        private List<String> bad = List.of();
        private List<Integer> badTokenIds = List.of();
        private boolean includeStopStrInOutput;
        private boolean addSpecialTokens = true;
        private boolean skipSpecialTokens = true;
        private Integer promptLogprobs;
        private Integer truncatePromptTokens;

        private Builder() {
        }

        public Builder maxTokens(int maxTokens) {
            this.maxTokens = maxTokens;
            return this;
        }

        /** Sampling temperature; 0 = greedy; null = unset (greedy when top_k and top_p are unset too, else 1.0). */
        public Builder temperature(Double temperature) {
            this.temperature = temperature;
            return this;
        }

        /** Top-k cutoff; 0 = disabled; 1 = greedy; null = unset. */
        public Builder topK(Integer topK) {
            this.topK = topK;
            return this;
        }

        /** Nucleus mass; 1 = disabled; 0 = greedy; null = unset. */
        public Builder topP(Double topP) {
            this.topP = topP;
            return this;
        }

        /** Sampling seed; null = a fresh one per request. */
        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        /** Stop strings; null = none. The list is copied (and checked) at {@link #build}. */
        public Builder stop(List<String> stop) {
            this.stop = copy(stop);
            return this;
        }

        public Builder stop(String... stop) {
            return stop(stop == null ? null : Arrays.asList(stop));
        }

        /** Stop token ids; null = none. */
        public Builder stopTokenIds(List<Integer> stopTokenIds) {
            this.stopTokenIds = copy(stopTokenIds);
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

        /** Completions to return, &ge; 1 (default 1). */
        public Builder n(int n) {
            this.n = n;
            return this;
        }

        /** Completions to sample, the best n returned; &ge; n; null = n. */
        public Builder bestOf(Integer bestOf) {
            this.bestOf = bestOf;
            return this;
        }

        /** Tokens generated before EOS or a stop id may end the output (default 0). */
        public Builder minTokens(int minTokens) {
            this.minTokens = minTokens;
            return this;
        }

        /** &gt; 0; 1 or null = off. */
        public Builder repetitionPenalty(Double repetitionPenalty) {
            this.repetitionPenalty = repetitionPenalty;
            return this;
        }

        /** In [-2, 2]; 0 or null = off. */
        public Builder presencePenalty(Double presencePenalty) {
            this.presencePenalty = presencePenalty;
            return this;
        }

        /** In [-2, 2]; 0 or null = off. */
        public Builder frequencyPenalty(Double frequencyPenalty) {
            this.frequencyPenalty = frequencyPenalty;
            return this;
        }

        /** In [0, 1]; 0 or null = off. */
        public Builder minP(Double minP) {
            this.minP = minP;
            return this;
        }

        /** Token id to a bias in [-100, 100]; null = none. */
        public Builder logitBias(Map<Integer, Float> logitBias) {
            this.logitBias = logitBias == null ? Map.of() : new LinkedHashMap<>(logitBias);
            return this;
        }

        /** Words never generated; null = none. */
        public Builder bad(List<String> bad) {
            this.bad = copy(bad);
            return this;
        }

        /** Token ids never generated; null = none. */
        public Builder badTokenIds(List<Integer> badTokenIds) {
            this.badTokenIds = copy(badTokenIds);
            return this;
        }

        public Builder includeStopStrInOutput(boolean include) {
            this.includeStopStrInOutput = include;
            return this;
        }

        public Builder addSpecialTokens(boolean add) {
            this.addSpecialTokens = add;
            return this;
        }

        public Builder skipSpecialTokens(boolean skip) {
            this.skipSpecialTokens = skip;
            return this;
        }

        /** 0..20 alternatives per prompt token ({@link RequestOutput#promptLogprobs()}); null = none. */
        public Builder promptLogprobs(Integer promptLogprobs) {
            this.promptLogprobs = promptLogprobs;
            return this;
        }

        /** Keep only the prompt's last k tokens; null = the whole prompt. */
        public Builder truncatePromptTokens(Integer truncatePromptTokens) {
            this.truncatePromptTokens = truncatePromptTokens;
            return this;
        }

        private static <T> List<T> copy(List<T> list) {
            return list == null ? List.of() : new ArrayList<>(list);
        }

        /** @throws ConfigException when a value is out of range or the fields contradict each other */
        public SamplingParams build() {
            boolean sampling = temperature != null || topK != null || topP != null;
            double t = temperature != null ? temperature : sampling ? DEFAULT_TEMPERATURE : 0.0;
            return new SamplingParams(maxTokens, t, topK != null ? topK : DEFAULT_TOP_K,
                    topP != null ? topP : DEFAULT_TOP_P, seed, stop, stopTokenIds, ignoreEos, logprobs, n, bestOf,
                    minTokens, repetitionPenalty, presencePenalty, frequencyPenalty, minP, logitBias, bad,
                    badTokenIds, includeStopStrInOutput, addSpecialTokens, skipSpecialTokens, promptLogprobs,
                    truncatePromptTokens);
        }
    }
}
