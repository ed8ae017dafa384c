package io.rocketkv.core.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One request's logit adjustments ({@link Penalties} and {@link StopCriteria#minTokens()}), applied to a copy of each
 * logit row before the {@link Sampler} draws from it; the raw row still gives the reported log-probabilities (as
 * vLLM reports them by default). Order, as in vLLM: logit bias, then the repetition, frequency and presence
 * penalties, then the bans (bad token ids, bad words, EOS and stop ids before {@code min_tokens}: {@code -Infinity},
 * so nothing revives them), then min-p over the temperature-scaled result.
 *
 * <p>State: which tokens the prompt and output hold (repetition penalty) and how often each was generated
 * (presence, frequency); {@link #accept} adds each generated token. Cost per step: O(vocab) for the copy plus
 * O(distinct tokens seen) for the penalties. Not thread-safe; owned by one {@link Sequence}.
 */
final class LogitsProcessor {

    private final Penalties p;
    private final double temperature;
    private final boolean greedy;
    private final int minTokens;
    private final int[] endIds;                     // EOS and stop ids, masked while outputs < minTokens
    private final Set<Integer> seen = new HashSet<>();            // prompt and output tokens
    private final Map<Integer, Integer> generated = new HashMap<>(); // output token -> occurrences
    private int[] outputs = new int[16];
    private int numOutputs;
    private float[] row = new float[0];              // (vocab) the adjusted row

    private LogitsProcessor(SamplingOptions options, StopCriteria stop, int[] prompt) {
        this.p = options.penalties();
        this.temperature = options.temperature();
        this.greedy = options.isGreedy();
        this.minTokens = stop.minTokens();
        List<Integer> ends = new ArrayList<>(stop.stopTokenIds());
        if (!stop.ignoreEos()) {
            ends.addAll(stop.eosTokenIds());
        }
        this.endIds = ends.stream().mapToInt(Integer::intValue).toArray();
        if (p.repetitionPenalty() != 1.0) {
            for (int t : prompt) {
                seen.add(t);
            }
        }
    }

    /** The processor for a request, or null when it adjusts nothing (the sampler then reads the raw row). */
    static LogitsProcessor forRequest(SamplingOptions options, StopCriteria stop, int[] prompt) {
        if (options.penalties().isNone() && stop.minTokens() == 0) {
            return null;
        }
        return new LogitsProcessor(options, stop, prompt);
    }

    /** Records a generated token. */
    void accept(int token) {
        if (numOutputs == outputs.length) {
            outputs = Arrays.copyOf(outputs, outputs.length * 2);
        }
        outputs[numOutputs++] = token;
        if (p.repetitionPenalty() != 1.0) {
            seen.add(token);
        }
        generated.merge(token, 1, Integer::sum);
    }

    /**
     * The adjusted copy of {@code logits[offset .. offset+vocab)}; valid until the next call. Token ids at or past
     * {@code vocab} in the bias or the bans are ignored (the api checks them against the vocabulary).
     */
    float[] apply(float[] logits, int offset, int vocab) {
        if (row.length < vocab) {
            row = new float[vocab];
        }
        System.arraycopy(logits, offset, row, 0, vocab);
        for (Map.Entry<Integer, Float> e : p.logitBias().entrySet()) {
            if (e.getKey() < vocab) {
                row[e.getKey()] += e.getValue();
            }
        }
        double rp = p.repetitionPenalty();
        if (rp != 1.0) {
            for (int t : seen) {
                if (t < vocab) {
                    row[t] = (float) (row[t] > 0 ? row[t] / rp : row[t] * rp);
                }
            }
        }
        if (p.presencePenalty() != 0.0 || p.frequencyPenalty() != 0.0) {
            for (Map.Entry<Integer, Integer> e : generated.entrySet()) {
                int t = e.getKey();
                if (t < vocab) {
                    row[t] = (float) (row[t] - p.presencePenalty() - p.frequencyPenalty() * e.getValue());
                }
            }
        }
        for (int t : p.badTokenIds()) {
            ban(t, vocab);
        }
        for (List<Integer> word : p.badWords()) {
            if (endsWith(word)) {
                ban(word.get(word.size() - 1), vocab);
            }
        }
        if (numOutputs < minTokens) {
            for (int t : endIds) {
                ban(t, vocab);
            }
        }
        if (p.minP() > 0.0 && !greedy) {
            float max = Float.NEGATIVE_INFINITY;
            for (int i = 0; i < vocab; i++) {
                max = Math.max(max, row[i]);
            }
            // p_i / p_max = exp((l_i - l_max) / T) < min_p  <=>  l_i < l_max + T ln(min_p)
            double threshold = max + temperature * Math.log(p.minP());
            for (int i = 0; i < vocab; i++) {
                if (row[i] < threshold) {
                    row[i] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        return row;
    }

    private void ban(int token, int vocab) {
        if (token < vocab) {
            row[token] = Float.NEGATIVE_INFINITY;
        }
    }

    /** Whether the output ends with all of {@code word} but its last token. */
    private boolean endsWith(List<Integer> word) {
        int prefix = word.size() - 1;
        if (prefix > numOutputs) {
            return false;
        }
        for (int i = 0; i < prefix; i++) {
            if (outputs[numOutputs - prefix + i] != word.get(i)) {
                return false;
            }
        }
        return true;
    }
}
