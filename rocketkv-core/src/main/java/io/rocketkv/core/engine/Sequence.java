package io.rocketkv.core.engine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * A request inside the engine: its tokens, sampler, stop state and timings. Touched only by the engine
 * thread; the outside world sees it through {@link #result()}.
 */
final class Sequence {

    enum Status { WAITING, RUNNING, FINISHED }

    final long id;
    final GenerationRequest request;
    final Sampler sampler;
    private final LogitsProcessor processor; // null when the request adjusts no logits
    final StopChecker stopChecker;
    final CompletableFuture<GenerationResult> result = new CompletableFuture<>();
    final long submittedNanos;

    Status status = Status.WAITING;
    private int[] tokens;          // prompt followed by the outputs so far
    private int numTokens;
    private final List<SampledToken> sampled = new ArrayList<>();
    private String text = "";      // detokenized output (stable prefix; an incomplete UTF-8 tail is held back)
    private int textCut = -1;      // where a stop string begins, once one matched
    private int streamed;          // chars of text already handed to the request's listener
    FinishReason finishReason;
    long prefillNanos;
    long decodeNanos;
    long firstTokenNanos;
    long kvBytesPeak;
    long ktBytesPeak;
    int cacheTokens;
    int preemptions;
    int prefilled;                 // tokens of allTokens() in the cache (scheduled); 0 while waiting
    int cachedTokens = -1;         // prompt tokens served from cached blocks at its first admission; -1 before
    private final PromptLogprob[] promptLogprobs; // [promptLength], entry 0 stays null; null when not asked for
    private int promptLogprobsMissing; // entries 1.. not yet scored

    Sequence(long id, GenerationRequest request, long submittedNanos) {
        this.id = id;
        this.request = request;
        this.sampler = new Sampler(request.sampling());
        this.processor = LogitsProcessor.forRequest(request.sampling(), request.stop(), request.promptIds());
        this.stopChecker = new StopChecker(request.stop());
        this.submittedNanos = submittedNanos;
        int[] prompt = request.promptIds();
        this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(request.stop().maxTokens(), 1 << 16));
        this.numTokens = prompt.length;
        this.promptLogprobs = request.promptLogprobs() == null ? null : new PromptLogprob[prompt.length];
        this.promptLogprobsMissing = promptLogprobs == null ? 0 : prompt.length - 1;
    }

    /** Whether a prefill of this sequence must score prompt positions (asked for, and some not scored yet). */
    boolean needsPromptLogits() {
        return promptLogprobsMissing > 0;
    }

    boolean hasPromptLogprob(int position) {
        return promptLogprobs[position] != null;
    }

    /** Sets prompt position {@code position}'s entry; may run on several threads for distinct positions. */
    void setPromptLogprob(int position, PromptLogprob lp) {
        promptLogprobs[position] = lp;
    }

    /** Recounts the entries still missing, after a step set some ({@link #setPromptLogprob}). */
    void countPromptLogprobs() {
        int missing = 0;
        for (int p = 1; p < promptLogprobs.length; p++) {
            missing += promptLogprobs[p] == null ? 1 : 0;
        }
        promptLogprobsMissing = missing;
    }

    int promptToken(int position) {
        return tokens[position];
    }

    int promptLength() {
        return request.promptIds().length;
    }

    int numTokens() {
        return numTokens;
    }

    int numOutputs() {
        return numTokens - promptLength();
    }

    int lastToken() {
        return tokens[numTokens - 1];
    }

    /** Prompt plus outputs so far: what a (re)computing prefill feeds. */
    int[] allTokens() {
        return Arrays.copyOf(tokens, numTokens);
    }

    int[] outputIds() {
        return Arrays.copyOfRange(tokens, promptLength(), numTokens);
    }

    /** The next token from row {@code logits[offset .. offset+vocab)}, after this request's logit adjustments. */
    /**
     * Whether this request's next token is the plain greedy pick of the raw logits (temperature 0 and no logits
     * processing: no penalties, biases, bans or min_tokens), which a backend can make next to the logits
     * ({@code Kernels.greedyRows}): the draw uses no random number, so where it is made does not change the stream.
     */
    boolean greedyOnRawLogits() {
        return processor == null && sampler.options().isGreedy();
    }

    SampledToken sampleNext(float[] logits, int offset, int vocab) {
        if (processor == null) {
            return sampler.sample(logits, offset, vocab);
        }
        return sampler.sample(logits, offset, processor.apply(logits, offset, vocab), 0, vocab);
    }

    /** Appends a sampled token and extends the stable text by what it completed. */
    void append(SampledToken t, Detokenizer detokenizer) {
        if (processor != null) {
            processor.accept(t.tokenId());
        }
        if (numTokens == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[numTokens++] = t.tokenId();
        sampled.add(t);
        String full = detokenizer.decode(outputIds());
        int stable = full.length();
        while (stable > 0 && full.charAt(stable - 1) == '\uFFFD') {
            stable--; // an incomplete UTF-8 sequence: wait for the next token
        }
        String now = full.substring(0, stable);
        if (now.startsWith(text)) {
            text = now;
        }
    }

    /**
     * The text not yet streamed, keeping back its last {@code holdBack} characters while the request runs:
     * a stop string may begin there, and text cut by a stop string must never reach the listener. Once
     * finished, all the rest of the final text.
     */
    String takeStreamDelta(int holdBack) {
        int end = status == Status.FINISHED ? text.length() : text.length() - holdBack;
        if (end <= streamed) {
            return "";
        }
        String delta = text.substring(streamed, end);
        streamed = end;
        return delta;
    }

    String text() {
        return text;
    }

    /**
     * On the last token, the whole decoded text (a trailing incomplete sequence included), cut at
     * {@code cutAt} (a stop string) when ≥ 0; without the last token's text when {@code dropLastToken} (it
     * was an EOS or stop token id: its id stays in the output, its text does not, as in vLLM and
     * TensorRT-LLM).
     */
    void finish(FinishReason reason, int cutAt, boolean dropLastToken, Detokenizer detokenizer) {
        this.finishReason = reason;
        this.status = Status.FINISHED;
        int[] ids = outputIds();
        String full = detokenizer.decode(dropLastToken ? Arrays.copyOf(ids, ids.length - 1) : ids);
        this.text = cutAt >= 0 && cutAt <= full.length() ? full.substring(0, cutAt) : full;
        this.textCut = cutAt;
    }

    GenerationResult toResult(long kvBytesPerToken) {
        var m = GenerationResult.Metrics.builder()
                .promptTokens(promptLength())
                .generatedTokens(numOutputs())
                .prefillNanos(prefillNanos)
                .decodeNanos(decodeNanos)
                .timeToFirstNanos(firstTokenNanos == 0 ? 0 : firstTokenNanos - submittedNanos)
                .kvCacheBytesPeak(kvBytesPeak)
                .preemptions(preemptions)
                .cacheTokens(cacheTokens)
                .cachedPromptTokens(Math.max(0, cachedTokens))
                .ktCacheBytesPeak(ktBytesPeak)
                .denseKvCacheBytes((long) numTokens * kvBytesPerToken)
                .build();
        return new GenerationResult(request.promptIds(), outputIds(), text, List.copyOf(sampled), finishReason, m,
                promptLogprobs == null ? null : Collections.unmodifiableList(Arrays.asList(promptLogprobs.clone())));
    }

    @Override
    public String toString() {
        return "Sequence[" + id + ", " + status + ", " + numTokens + " tokens" + (textCut >= 0 ? ", cut" : "") + "]";
    }
}
