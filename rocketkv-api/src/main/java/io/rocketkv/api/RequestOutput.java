package io.rocketkv.api;

import io.rocketkv.core.engine.GenerationResult;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;

/**
 * The result of one prompt (TensorRT-LLM's {@code RequestOutput}).
 *
 * @param prompt         the prompt text
 * @param promptTokenIds the prompt's token ids, special tokens included
 * @param outputs        the completions: {@code n} of them (SamplingParams), index 0 first
 * @param metrics        counts, timings and memory
 * @param promptLogprobs null unless {@link SamplingParams#promptLogprobs()} was set; else one entry per prompt token,
 *                       the first null (no token precedes it), as vLLM's {@code RequestOutput.prompt_logprobs}
 */
public record RequestOutput(String prompt, int[] promptTokenIds, List<CompletionOutput> outputs, Metrics metrics,
                            List<PromptLogprob> promptLogprobs) {

    public RequestOutput {
        promptTokenIds = promptTokenIds.clone();
        outputs = List.copyOf(outputs);
        promptLogprobs = promptLogprobs == null ? null : Collections.unmodifiableList(new ArrayList<>(promptLogprobs));
    }

    /** Without prompt log-probabilities. */
    public RequestOutput(String prompt, int[] promptTokenIds, List<CompletionOutput> outputs, Metrics metrics) {
        this(prompt, promptTokenIds, outputs, metrics, null);
    }

    /** The engine's result as the api's, field by field; per-token logprobs only when they were asked for. */
    static RequestOutput from(String prompt, GenerationResult r, boolean withLogprobs) {
        return new RequestOutput(prompt, r.promptIds(), List.of(CompletionOutput.from(r, withLogprobs)),
                Metrics.from(r.metrics()), PromptLogprob.from(r.promptLogprobs()));
    }

    /**
     * The engine's results of one prompt's {@code best_of} sampled completions as the api's: the {@code n} with the
     * highest cumulative log-probability (all of them when there are n), in that order, indexed 0..n-1; the metrics
     * count the returned completions' tokens. The prompt log-probabilities are those of the completion that computed
     * them (the first submitted).
     */
    static RequestOutput from(String prompt, List<GenerationResult> results, int n, boolean withLogprobs) {
        List<PromptLogprob> promptLogprobs = PromptLogprob.from(results.getFirst().promptLogprobs());
        List<GenerationResult> ranked = new ArrayList<>(results);
        if (ranked.size() > n) {
            ranked.sort(Comparator.comparingDouble(CompletionOutput::cumulativeLogprob).reversed());
            ranked = ranked.subList(0, n);
        }
        List<CompletionOutput> outs = new ArrayList<>();
        for (int i = 0; i < ranked.size(); i++) {
            outs.add(CompletionOutput.from(ranked.get(i), withLogprobs, i));
        }
        Metrics m = Metrics.from(ranked.getFirst().metrics());
        for (GenerationResult r : ranked.subList(1, ranked.size())) {
            m = m.plus(Metrics.from(r.metrics()));
        }
        return new RequestOutput(prompt, ranked.getFirst().promptIds(), outs, m, promptLogprobs);
    }

    @Override
    public int[] promptTokenIds() {
        return promptTokenIds.clone();
    }

    /** The first (today the only) completion. */
    public CompletionOutput output() {
        return outputs.getFirst();
    }

    /**
     * @param promptTokens    tokens in the prompt
     * @param generatedTokens tokens generated
     * @param prefillSeconds  time of the prefill step(s) that included this request
     * @param decodeSeconds   time of the decode steps that included this request
     * @param timeToFirstTokenSeconds from submission to the first generated token
     * @param kvCacheBytes    most KV-cache bytes the request held at once
     * @param cacheTokens     tokens kept per KV head of every layer at the end (with RocketKV at most
     *                        prompt_budget + generated tokens; under dense attention all tokens)
     * @param ktCacheBytes    most KT-cache bytes held at once (0 under dense attention)
     * @param denseKvCacheBytes KV-cache bytes dense attention would hold for the same sequence
     * @param preemptions     times the request was preempted (its cache freed) and recomputed
     * @param numCachedTokens prompt tokens served from cached blocks (block reuse), not prefilled, at the request's
     *                        first admission (vLLM's {@code num_cached_tokens}); 0 with reuse off
     */
    public record Metrics(int promptTokens, int generatedTokens, double prefillSeconds, double decodeSeconds,
                          double timeToFirstTokenSeconds, long kvCacheBytes, int cacheTokens, long ktCacheBytes,
                          long denseKvCacheBytes, int preemptions, int numCachedTokens) {

        private static final double NANOS_PER_SECOND = 1e9;

        /** The engine's metrics, field by field, times in seconds. */
        static Metrics from(GenerationResult.Metrics m) {
            Fields f = new Fields();
            f.promptTokens = m.promptTokens();
            f.generatedTokens = m.generatedTokens();
            f.prefillSeconds = m.prefillNanos() / NANOS_PER_SECOND;
            f.decodeSeconds = m.decodeNanos() / NANOS_PER_SECOND;
            f.timeToFirstTokenSeconds = m.timeToFirstNanos() / NANOS_PER_SECOND;
            f.kvCacheBytes = m.kvCacheBytesPeak();
            f.cacheTokens = m.cacheTokens();
            f.ktCacheBytes = m.ktCacheBytesPeak();
            f.denseKvCacheBytes = m.denseKvCacheBytes();
            f.preemptions = m.preemptions();
            f.numCachedTokens = m.cachedPromptTokens();
            return f.build();
        }

        /**
         * These metrics with another completion of the same prompt added: generated tokens, KV and KT bytes and
         * preemptions summed, times the longer of the two, prompt counts kept.
         */
        Metrics plus(Metrics o) {
            Fields f = new Fields();
            f.promptTokens = promptTokens;
            f.generatedTokens = generatedTokens + o.generatedTokens;
            f.prefillSeconds = Math.max(prefillSeconds, o.prefillSeconds);
            f.decodeSeconds = Math.max(decodeSeconds, o.decodeSeconds);
            f.timeToFirstTokenSeconds = Math.min(timeToFirstTokenSeconds, o.timeToFirstTokenSeconds);
            f.kvCacheBytes = kvCacheBytes + o.kvCacheBytes;
            f.cacheTokens = Math.max(cacheTokens, o.cacheTokens);
            f.ktCacheBytes = ktCacheBytes + o.ktCacheBytes;
            f.denseKvCacheBytes = denseKvCacheBytes + o.denseKvCacheBytes;
            f.preemptions = preemptions + o.preemptions;
            f.numCachedTokens = Math.max(numCachedTokens, o.numCachedTokens);
            return f.build();
        }

        /** The fields, set by name; {@link #build} is the one call of the canonical constructor here. */
        private static final class Fields {
            int promptTokens;
            int generatedTokens;
            double prefillSeconds;
            double decodeSeconds;
            double timeToFirstTokenSeconds;
            long kvCacheBytes;
            int cacheTokens;
            long ktCacheBytes;
            long denseKvCacheBytes;
            int preemptions;
            int numCachedTokens;

            Metrics build() {
                return new Metrics(promptTokens, generatedTokens, prefillSeconds, decodeSeconds,
                        timeToFirstTokenSeconds, kvCacheBytes, cacheTokens, ktCacheBytes, denseKvCacheBytes,
                        preemptions, numCachedTokens);
            }
        }
    }
}
