package io.rocketkv.core.engine;

/**
 * How one request picks its next token (the engine-side twin of the api's {@code SamplingParams}, which maps
 * onto it by name through {@link #builder()}).
 *
 * <p>The filters apply in vLLM's order: temperature, then top-k, then top-p over the top-k survivors renormalised.
 * Build one with {@link #builder()}: every field is set by name, unset fields keep vLLM's defaults.
 *
 * @param temperature ≥ 0 and finite; below {@link #GREEDY_BELOW_TEMPERATURE} (0 included) = greedy (argmax, lowest
 *                    id on ties; top-k, top-p and seed are then moot)
 * @param topK        0 = disabled, else ≥ 1: keep the k most probable tokens
 * @param topP        0 &lt; p ≤ 1: keep the smallest set of most probable tokens whose probability sums to ≥ p;
 *                    1 = disabled
 * @param seed        seed of the request's random generator; null = a fresh random seed per request
 *                    ({@link Sampler#seed()} reports it, so a run can be replayed)
 * @param logprobs    null = no alternatives; n ≥ 0 = also return the n most probable alternatives (0 = only the
 *                    chosen token's logprob, which {@link Sampler} always reports)
 * @param penalties   logit adjustments before the draw (repetition, presence and frequency penalties, min-p, logit
 *                    bias, banned tokens and words; {@link LogitsProcessor}); {@link Penalties#NONE} for none
 */
public record SamplingOptions(double temperature, int topK, double topP, Long seed, Integer logprobs,
                              Penalties penalties) {

    public static final double DEFAULT_TEMPERATURE = 1.0;
    /** {@code topK} value that disables top-k (the only one: negative values are refused). */
    public static final int TOP_K_DISABLED = 0;
    public static final double DEFAULT_TOP_P = 1.0;

    /**
     * Temperatures below this decode greedily, as in vLLM ({@code _SAMPLING_EPS}): dividing logits by a
     * temperature this small only sharpens the distribution onto its argmax, and a subnormal one (5e-324)
     * overflows {@code 1 / T} to infinity, which would turn every weight into NaN or 0.
     */
    public static final double GREEDY_BELOW_TEMPERATURE = 1e-5;

    /** Greedy decoding, no alternatives. */
    public static final SamplingOptions GREEDY = builder().temperature(0.0).build();

    /** Without logit adjustments. */
    public SamplingOptions(double temperature, int topK, double topP, Long seed, Integer logprobs) {
        this(temperature, topK, topP, seed, logprobs, Penalties.NONE);
    }

    public SamplingOptions {
        penalties = penalties == null ? Penalties.NONE : penalties;
        if (!(temperature >= 0.0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0 and finite (0 = greedy), got " + temperature);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("topK must be 0 (disabled) or >= 1, got " + topK);
        }
        if (!(topP > 0.0 && topP <= 1.0)) {
            throw new IllegalArgumentException("topP must be in (0, 1] (1 = disabled), got " + topP);
        }
        if (logprobs != null && logprobs < 0) {
            throw new IllegalArgumentException("logprobs must be null or >= 0, got " + logprobs);
        }
    }

    /** Plain sampling at temperature 1 with no filters, random seed, no alternatives (vLLM's defaults). */
    public static SamplingOptions defaults() {
        return builder().build();
    }

    /** A builder holding {@link #defaults()}. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these options. */
    public Builder toBuilder() {
        return new Builder().temperature(temperature).topK(topK).topP(topP).seed(seed).logprobs(logprobs)
                .penalties(penalties);
    }

    /** True when the temperature is below {@link #GREEDY_BELOW_TEMPERATURE}: the argmax is taken. */
    public boolean isGreedy() {
        return temperature < GREEDY_BELOW_TEMPERATURE;
    }

    public boolean topKEnabled() {
        return topK >= 1;
    }

    public boolean topPEnabled() {
        return topP < 1.0;
    }

    /** Number of top alternatives to report (0 when {@code logprobs} is null). */
    public int numTopLogprobs() {
        return logprobs == null ? 0 : logprobs;
    }

    public SamplingOptions withSeed(Long newSeed) {
        return toBuilder().seed(newSeed).build();
    }

    public SamplingOptions withLogprobs(Integer n) {
        return toBuilder().logprobs(n).build();
    }

    /** Mutable builder; {@link #build} validates. Starts from {@link #defaults()}. */
    public static final class Builder {
        private double temperature = DEFAULT_TEMPERATURE;
        private int topK = TOP_K_DISABLED;
        private double topP = DEFAULT_TOP_P;
        private Long seed;
        private Integer logprobs;
        private Penalties penalties = Penalties.NONE;

        private Builder() {
        }

        /** Logit adjustments; null = none. */
        public Builder penalties(Penalties penalties) {
            this.penalties = penalties;
            return this;
        }

        /** 0 = greedy. */
        public Builder temperature(double temperature) {
            this.temperature = temperature;
            return this;
        }

        /** 0 = disabled ({@link #TOP_K_DISABLED}). */
        public Builder topK(int topK) {
            this.topK = topK;
            return this;
        }

        /** 1 = disabled. */
        public Builder topP(double topP) {
            this.topP = topP;
            return this;
        }

        /** null = a fresh random seed per request. */
        public Builder seed(Long seed) {
            this.seed = seed;
            return this;
        }

        /** null = no alternatives. */
        public Builder logprobs(Integer logprobs) {
            this.logprobs = logprobs;
            return this;
        }

        /** @throws IllegalArgumentException when a value is out of range */
        public SamplingOptions build() {
            return new SamplingOptions(temperature, topK, topP, seed, logprobs, penalties);
        }
    }
}
