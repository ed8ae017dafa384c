package io.rocketkv.core.engine;

import java.util.List;

/**
 * When a request stops generating. {@link StopChecker} applies it token by token.
 *
 * <p>Order of the checks after each token (vLLM's): EOS (unless {@code ignoreEos}), stop token ids, stop strings,
 * then {@code maxTokens}. {@code ignoreEos} only silences {@code eosTokenIds}: an id that is also in
 * {@code stopTokenIds} still stops. A null list means an empty one. Build one with {@link #builder()}, which
 * names every field.
 *
 * @param eosTokenIds  the model's end-of-sequence ids (a generation config may list several), each ≥ 0
 * @param stopTokenIds further ids that stop generation, each ≥ 0
 * @param stopStrings  strings that stop generation, each non-empty; the output is cut before the match
 * @param maxTokens    most tokens to generate, ≥ 1
 * @param ignoreEos    keep generating past EOS (benchmarks use it to force {@code maxTokens} tokens)
 * @param minTokens    ≥ 0: EOS and the stop token ids cannot be sampled before this many tokens were generated
 *                     ({@link LogitsProcessor} masks them)
 * @param includeStopString keep a matched stop string at the end of the output text (else it is cut before it)
 */
public record StopCriteria(List<Integer> eosTokenIds, List<Integer> stopTokenIds, List<String> stopStrings,
                           int maxTokens, boolean ignoreEos, int minTokens, boolean includeStopString) {

    /** With no minimum and stop strings cut from the output. */
    public StopCriteria(List<Integer> eosTokenIds, List<Integer> stopTokenIds, List<String> stopStrings,
                        int maxTokens, boolean ignoreEos) {
        this(eosTokenIds, stopTokenIds, stopStrings, maxTokens, ignoreEos, 0, false);
    }

    public StopCriteria {
        if (minTokens < 0) {
            throw new IllegalArgumentException("minTokens must be >= 0, got " + minTokens);
        }
        eosTokenIds = checkIds("eosTokenIds", eosTokenIds);
        stopTokenIds = checkIds("stopTokenIds", stopTokenIds);
        if (stopStrings == null) {
            stopStrings = List.of();
        }
        for (int i = 0; i < stopStrings.size(); i++) {
            if (stopStrings.get(i) == null || stopStrings.get(i).isEmpty()) {
                throw new IllegalArgumentException("stopStrings[" + i + "] must be a non-empty string, got "
                        + (stopStrings.get(i) == null ? "null" : "\"\""));
            }
        }
        stopStrings = List.copyOf(stopStrings);
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        }
    }

    /** Stop at any of {@code eosTokenIds} or after {@code maxTokens} tokens. */
    public static StopCriteria of(int maxTokens, List<Integer> eosTokenIds) {
        return builder().eosTokenIds(eosTokenIds).maxTokens(maxTokens).build();
    }

    /** A builder with no stop ids or strings, EOS honoured, and {@code maxTokens} still to set. */
    public static Builder builder() {
        return new Builder();
    }

    /** Length of the longest stop string (0 when there is none). */
    public int longestStopString() {
        int longest = 0;
        for (String s : stopStrings) {
            longest = Math.max(longest, s.length());
        }
        return longest;
    }

    private static List<Integer> checkIds(String field, List<Integer> ids) {
        if (ids == null) {
            return List.of();
        }
        for (int i = 0; i < ids.size(); i++) {
            Integer id = ids.get(i);
            if (id == null || id < 0) {
                throw new IllegalArgumentException(field + "[" + i + "] must be a token id >= 0, got " + id);
            }
        }
        return List.copyOf(ids);
    }

    /** Mutable builder; {@link #build} validates ({@code maxTokens} must be set to &ge; 1). */
    public static final class Builder {
        private List<Integer> eosTokenIds = List.of();
        private List<Integer> stopTokenIds = List.of();
        private List<String> stopStrings = List.of();
        private int maxTokens;
        private boolean ignoreEos;
        private int minTokens;
        private boolean includeStopString;

        private Builder() {
        }

        public Builder minTokens(int minTokens) {
            this.minTokens = minTokens;
            return this;
        }

        public Builder includeStopString(boolean include) {
            this.includeStopString = include;
            return this;
        }

        public Builder eosTokenIds(List<Integer> eosTokenIds) {
            this.eosTokenIds = eosTokenIds;
            return this;
        }

        public Builder stopTokenIds(List<Integer> stopTokenIds) {
            this.stopTokenIds = stopTokenIds;
            return this;
        }

        public Builder stopStrings(List<String> stopStrings) {
            this.stopStrings = stopStrings;
            return this;
        }

        public Builder maxTokens(int maxTokens) {
            this.maxTokens = maxTokens;
            return this;
        }

        public Builder ignoreEos(boolean ignoreEos) {
            this.ignoreEos = ignoreEos;
            return this;
        }

        /** @throws IllegalArgumentException when a value is out of range */
        public StopCriteria build() {
            return new StopCriteria(eosTokenIds, stopTokenIds, stopStrings, maxTokens, ignoreEos, minTokens,
                    includeStopString);
        }
    }
}
