package io.rocketkv.core.engine;

/**
 * How one request picks its next token (the engine-side twin of the api's {@code SamplingParams}).
 *
 * <p>The filters apply in vLLM's order: temperature, then top-k, then top-p over the top-k survivors renormalised.
 *
 * @param temperature ≥ 0 and finite; below {@link #GREEDY_BELOW_TEMPERATURE} (0 included) = greedy (argmax, lowest
 *                    id on ties; top-k, top-p and seed are then moot)
 * @param topK        0 or −1 = disabled, else ≥ 1: keep the k most probable tokens
 * @param topP        0 &lt; p ≤ 1: keep the smallest set of most probable tokens whose probability sums to ≥ p;
 *                    1 = disabled
 * @param seed        seed of the request's random generator; null = a fresh random seed per request
 *                    ({@link Sampler#seed()} reports it, so a run can be replayed)
 * @param logprobs    null = no alternatives; n ≥ 0 = also return the n most probable alternatives (0 = only the
 *                    chosen token's logprob, which {@link Sampler} always reports)
 */
public record SamplingOptions(double temperature, int topK, double topP, Long seed, Integer logprobs) {

    /**
     * Temperatures below this decode greedily, as in vLLM ({@code _SAMPLING_EPS}): dividing logits by a
     * temperature this small only sharpens the distribution onto its argmax, and a subnormal one (5e-324)
     * overflows {@code 1 / T} to infinity, which would turn every weight into NaN or 0.
     */
    public static final double GREEDY_BELOW_TEMPERATURE = 1e-5;

    /** Greedy decoding, no alternatives. */
    public static final SamplingOptions GREEDY = new SamplingOptions(0.0, -1, 1.0, null, null);

    public SamplingOptions {
        if (!(temperature >= 0.0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0 and finite (0 = greedy), got " + temperature);
        }
        if (topK < -1) {
            throw new IllegalArgumentException("topK must be 0 or -1 (disabled) or >= 1, got " + topK);
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
        return new SamplingOptions(1.0, -1, 1.0, null, null);
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
        return new SamplingOptions(temperature, topK, topP, newSeed, logprobs);
    }

    public SamplingOptions withLogprobs(Integer n) {
        return new SamplingOptions(temperature, topK, topP, seed, n);
    }
}
