package io.rocketkv.core.engine;

import java.util.ArrayList;
import java.util.Arrays;
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
    final StopChecker stopChecker;
    final CompletableFuture<GenerationResult> result = new CompletableFuture<>();
    final long submittedNanos;

    Status status = Status.WAITING;
    private int[] tokens;          // prompt followed by the outputs so far
    private int numTokens;
    private final List<SampledToken> sampled = new ArrayList<>();
    private String text = "";      // detokenized output (stable prefix; an incomplete UTF-8 tail is held back)
    private int textCut = -1;      // where a stop string begins, once one matched
    FinishReason finishReason;
    long prefillNanos;
    long decodeNanos;
    long firstTokenNanos;
    long kvBytesPeak;
    int preemptions;

    Sequence(long id, GenerationRequest request, long submittedNanos) {
        this.id = id;
        this.request = request;
        this.sampler = new Sampler(request.sampling());
        this.stopChecker = new StopChecker(request.stop());
        this.submittedNanos = submittedNanos;
        int[] prompt = request.promptIds();
        this.tokens = Arrays.copyOf(prompt, prompt.length + Math.min(request.stop().maxTokens(), 1 << 16));
        this.numTokens = prompt.length;
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

    /** Appends a sampled token and returns the text it completed. */
    String append(SampledToken t, Detokenizer detokenizer) {
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
        String delta = now.startsWith(text) ? now.substring(text.length()) : "";
        if (now.startsWith(text)) {
            text = now;
        }
        return delta;
    }

    String text() {
        return text;
    }

    /** On the last token, the whole decoded text (a trailing incomplete sequence included). */
    void finish(FinishReason reason, int cutAt, Detokenizer detokenizer) {
        this.finishReason = reason;
        this.status = Status.FINISHED;
        String full = detokenizer.decode(outputIds());
        this.text = cutAt >= 0 && cutAt <= full.length() ? full.substring(0, cutAt) : full;
        this.textCut = cutAt;
    }

    GenerationResult toResult() {
        var m = new GenerationResult.Metrics(promptLength(), numOutputs(), prefillNanos, decodeNanos,
                firstTokenNanos == 0 ? 0 : firstTokenNanos - submittedNanos, kvBytesPeak, preemptions);
        return new GenerationResult(request.promptIds(), outputIds(), text, List.copyOf(sampled), finishReason, m);
    }

    @Override
    public String toString() {
        return "Sequence[" + id + ", " + status + ", " + numTokens + " tokens" + (textCut >= 0 ? ", cut" : "") + "]";
    }
}
