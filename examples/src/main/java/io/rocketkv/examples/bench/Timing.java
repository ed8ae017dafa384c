package io.rocketkv.examples.bench;

/**
 * One benchmark request's timings, in nanoseconds from its submission.
 *
 * @param tokenTimes   when each token (or streamed chunk) arrived
 * @param end          when the request finished
 * @param tokens       tokens generated
 * @param promptTokens tokens of its prompt
 * @param cachedTokens prompt tokens served from the prefix cache
 */
public record Timing(long[] tokenTimes, long end, int tokens, int promptTokens, int cachedTokens) {

    public Timing {
        tokenTimes = tokenTimes.clone();
    }

    @Override
    public long[] tokenTimes() {
        return tokenTimes.clone();
    }

    /** Time to the first token; the end when none came. */
    public long firstToken() {
        return tokenTimes.length == 0 ? end : tokenTimes[0];
    }

    /** Time per output token after the first (0 for a single token). */
    public double tpotNanos() {
        return tokens > 1 ? (double) (end - firstToken()) / (tokens - 1) : 0;
    }
}
