package io.rocketkv.core.engine;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ThreadLocalRandom;
import java.util.random.RandomGenerator;

/**
 * Picks one request's next tokens from logits: greedy, or temperature → top-k → top-p → one uniform draw.
 *
 * <p>One {@code Sampler} per request: it owns the request's random generator ({@link SplittableRandom} seeded from
 * {@link SamplingOptions#seed()}, so the same seed and the same logits give the same tokens) and scratch buffers
 * reused across steps. Not thread-safe.
 *
 * <p>Rules:
 * <ul>
 *   <li><b>Greedy</b> (temperature 0): the argmax; ties go to the lowest id. Draws no random number.</li>
 *   <li><b>Temperature</b> T: probabilities {@code ∝ exp((logit − max) / T)}, in double precision.</li>
 *   <li><b>Top-k</b>: keep the k tokens with the largest logits; at a tie on the boundary the lower ids are kept.</li>
 *   <li><b>Top-p</b>: over the (top-k) survivors ranked by probability (ties: lower id first), keep the shortest
 *       prefix whose probability sums to ≥ p of the survivors' total; always at least one token.</li>
 *   <li>Then one {@code nextDouble()} draw picks from the kept tokens renormalised.</li>
 *   <li><b>Logprobs</b> are {@code log_softmax} of the <em>raw</em> logits, before temperature, top-k and top-p — what
 *       vLLM reports by default — for the chosen token always, and for the n best alternatives when
 *       {@link SamplingOptions#logprobs()} asks.</li>
 * </ul>
 *
 * <p>Cost: O(V) without filters; O(V log k) with top-k; top-p alone first tries the best 64 tokens, then 512, 4096,
 * … (each a bounded-heap selection) and sorts the whole vocabulary only when the nucleus is that large, so O(V log V)
 * at worst. Nothing is boxed: tokens are ranked as packed {@code long}s ({@link LogitRanking}).
 *
 * <p>Logits may be {@code -Infinity} (masked tokens, never sampled); NaN, {@code +Infinity} and all-masked rows are
 * rejected with {@link IllegalArgumentException}.
 */
public final class Sampler {

    private static final int FIRST_NUCLEUS_GUESS = 64;
    private static final int NUCLEUS_GROWTH = 8;

    private final SamplingOptions options;
    private final long seed;
    private final RandomGenerator random;
    private long[] ranked = new long[0];     // (candidates) ranking keys, best first
    private double[] weights = new double[0]; // (candidates) exp((logit - max) / T) of ranked[i]

    public Sampler(SamplingOptions options) {
        if (options == null) {
            throw new IllegalArgumentException("options must not be null");
        }
        this.options = options;
        this.seed = options.seed() != null ? options.seed() : ThreadLocalRandom.current().nextLong();
        this.random = new SplittableRandom(seed);
    }

    public SamplingOptions options() {
        return options;
    }

    /** The seed in use: the requested one, or the random one drawn for this request. */
    public long seed() {
        return seed;
    }

    /** Samples from {@code logits[0 .. vocabSize)} (entries past vocabSize, e.g. padding, are ignored). */
    public SampledToken sample(float[] logits, int vocabSize) {
        return sample(logits, 0, vocabSize);
    }

    /** Samples from {@code logits[offset .. offset+vocabSize)}, e.g. one row of a {@code (batch, vocab)} buffer. */
    public SampledToken sample(float[] logits, int offset, int vocabSize) {
        return sample(logits, offset, logits, offset, vocabSize);
    }

    /**
     * Draws from the adjusted row {@code adjusted[adjustedOffset ..)} (penalties applied, banned tokens
     * {@code -Infinity}; see {@link LogitsProcessor}) and reports log-probabilities of the raw row
     * {@code raw[rawOffset ..)}, both {@code vocabSize} long. With the same row twice this is
     * {@link #sample(float[], int, int)}.
     */
    public SampledToken sample(float[] raw, int rawOffset, float[] adjusted, int adjustedOffset, int vocabSize) {
        checkRow(raw, rawOffset, vocabSize);
        float max = rowMax(raw, rawOffset, vocabSize, "");
        double logSumExp = logSumExp(raw, rawOffset, vocabSize, max);
        boolean same = raw == adjusted && rawOffset == adjustedOffset;
        if (!same) {
            checkRow(adjusted, adjustedOffset, vocabSize);
        }
        float adjustedMax = same ? max : rowMax(adjusted, adjustedOffset, vocabSize,
                " after the request's penalties and bans (bad words, min_tokens, min_p)");
        int token = options.isGreedy() ? argmax(adjusted, adjustedOffset, vocabSize)
                : sampleRandom(adjusted, adjustedOffset, vocabSize, adjustedMax);
        float logprob = (float) (raw[rawOffset + token] - logSumExp);
        return new SampledToken(token, logprob, topLogprobs(raw, rawOffset, vocabSize, logSumExp,
                options.numTopLogprobs()));
    }

    /**
     * {@code log Σ exp(logits[offset .. offset+vocabSize))} in double precision, given the row's maximum {@code max}
     * (finite; see {@link #rowMax}); a token's log-probability is its logit minus this.
     */
    static double logSumExp(float[] logits, int offset, int vocabSize, float max) {
        double sum = 0.0;
        for (int i = offset; i < offset + vocabSize; i++) {
            sum += Math.exp((double) logits[i] - max);
        }
        return max + Math.log(sum);
    }

    /** The row's largest value; rejects NaN, {@code +Infinity} and a row with every value {@code -Infinity}. */
    static float rowMax(float[] logits, int offset, int vocabSize, String after) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = offset; i < offset + vocabSize; i++) {
            float x = logits[i];
            if (Float.isNaN(x) || x == Float.POSITIVE_INFINITY) {
                throw new IllegalArgumentException("logits[" + (i - offset) + "] must be finite or -Infinity, got " + x);
            }
            max = Math.max(max, x);
        }
        if (max == Float.NEGATIVE_INFINITY) {
            throw new IllegalArgumentException("all " + vocabSize + " logits are -Infinity" + after
                    + ": no token can be sampled");
        }
        return max;
    }

    /** The index of the largest value; ties go to the lowest id. */
    private static int argmax(float[] logits, int offset, int vocabSize) {
        int best = 0;
        for (int i = 1; i < vocabSize; i++) {
            if (logits[offset + i] > logits[offset + best]) {
                best = i;
            }
        }
        return best;
    }

    /** The ids a draw could pick, best first (after top-k and top-p); for tests. */
    int[] keptTokenIds(float[] logits, int vocabSize) {
        checkRow(logits, 0, vocabSize);
        float max = Float.NEGATIVE_INFINITY;
        int argmax = 0;
        for (int i = 0; i < vocabSize; i++) {
            if (logits[i] > max) {
                max = logits[i];
                argmax = i;
            }
        }
        if (options.isGreedy()) {
            return new int[] {argmax};
        }
        int n = rankAndCut(logits, 0, vocabSize, max);
        int[] ids = new int[n];
        for (int i = 0; i < n; i++) {
            ids[i] = LogitRanking.id(ranked[i]);
        }
        return ids;
    }

    private int sampleRandom(float[] logits, int offset, int vocabSize, float max) {
        double invT = 1.0 / options.temperature();
        if (!options.topPEnabled() && !(options.topKEnabled() && options.topK() < vocabSize)) {
            // No filter: walk the whole row twice (total, then the draw), no ranking needed.
            double total = 0.0;
            for (int i = offset; i < offset + vocabSize; i++) {
                total += Math.exp((logits[i] - (double) max) * invT);
            }
            double u = random.nextDouble() * total;
            double acc = 0.0;
            int lastPositive = 0;
            for (int i = offset; i < offset + vocabSize; i++) {
                double w = Math.exp((logits[i] - (double) max) * invT);
                acc += w;
                if (w > 0.0) {
                    lastPositive = i - offset;
                    if (u < acc) {
                        return i - offset;
                    }
                }
            }
            return lastPositive;   // u landed past acc through rounding
        }
        int n = rankAndCut(logits, offset, vocabSize, max);
        double total = 0.0;
        for (int i = 0; i < n; i++) {
            total += weights[i];
        }
        double u = random.nextDouble() * total;
        double acc = 0.0;
        int last = 0;
        for (int i = 0; i < n; i++) {
            acc += weights[i];
            if (weights[i] > 0.0) {
                last = i;
                if (u < acc) {
                    return LogitRanking.id(ranked[i]);
                }
            }
        }
        return LogitRanking.id(ranked[last]);
    }

    /**
     * Ranks the candidates into {@code ranked}/{@code weights} and applies top-k then top-p.
     *
     * @return the number of kept candidates, a prefix of {@code ranked}
     */
    private int rankAndCut(float[] logits, int offset, int vocabSize, float max) {
        double invT = 1.0 / options.temperature();
        if (options.topKEnabled() && options.topK() < vocabSize) {
            int k = options.topK();
            rank(logits, offset, vocabSize, k, max, invT);
            if (!options.topPEnabled()) {
                return k;
            }
            double total = 0.0;
            for (int i = 0; i < k; i++) {
                total += weights[i];
            }
            int m = nucleus(k, options.topP() * total);
            return m > 0 ? m : k;
        }
        if (!options.topPEnabled()) {
            rank(logits, offset, vocabSize, vocabSize, max, invT);
            return vocabSize;
        }
        double total = 0.0;
        for (int i = offset; i < offset + vocabSize; i++) {
            total += Math.exp((logits[i] - (double) max) * invT);
        }
        double target = options.topP() * total;
        for (int k = Math.min(FIRST_NUCLEUS_GUESS, vocabSize); ; k = (int) Math.min((long) k * NUCLEUS_GROWTH, vocabSize)) {
            rank(logits, offset, vocabSize, k, max, invT);
            int m = nucleus(k, target);
            if (m > 0) {
                return m;
            }
            if (k == vocabSize) {
                return k;   // rounding left the sum a hair below target: keep everything
            }
        }
    }

    /** Fills ranked[0..k) with the k best tokens, best first, and weights[0..k) with their unnormalised probability. */
    private void rank(float[] logits, int offset, int vocabSize, int k, float max, double invT) {
        if (ranked.length < k) {
            ranked = new long[Math.max(k, Math.min(2 * ranked.length, vocabSize))];
            weights = new double[ranked.length];
        }
        if (k == vocabSize) {
            LogitRanking.sortAll(logits, offset, vocabSize, ranked);
        } else {
            LogitRanking.selectTop(logits, offset, vocabSize, k, ranked);
        }
        for (int i = 0; i < k; i++) {
            double x = logits[offset + LogitRanking.id(ranked[i])];
            weights[i] = Math.exp((x - max) * invT);
        }
    }

    /** Shortest prefix of weights[0..k) whose sum reaches target (≥ 1 token); 0 when the k do not reach it. */
    private int nucleus(int k, double target) {
        double acc = 0.0;
        for (int i = 0; i < k; i++) {
            acc += weights[i];
            if (acc >= target) {
                return i + 1;
            }
        }
        return 0;
    }

    /** The {@code k} most likely tokens of the row, best first (ties: lower id), with their log-probabilities. */
    static List<TokenLogprob> topLogprobs(float[] logits, int offset, int vocabSize, double logSumExp, int k) {
        int n = Math.min(k, vocabSize);
        if (n == 0) {
            return List.of();
        }
        long[] best = new long[n];
        LogitRanking.selectTop(logits, offset, vocabSize, n, best);
        List<TokenLogprob> out = new ArrayList<>(n);
        for (long key : best) {
            int id = LogitRanking.id(key);
            out.add(new TokenLogprob(id, (float) (logits[offset + id] - logSumExp)));
        }
        return out;
    }

    static void checkRow(float[] logits, int offset, int vocabSize) {
        if (logits == null) {
            throw new IllegalArgumentException("logits must not be null");
        }
        if (vocabSize < 1) {
            throw new IllegalArgumentException("vocabSize must be >= 1, got " + vocabSize);
        }
        if (offset < 0 || (long) offset + vocabSize > logits.length) {
            throw new IllegalArgumentException("logits[" + offset + " .. " + ((long) offset + vocabSize)
                    + ") must lie within the array of length " + logits.length);
        }
    }
}
