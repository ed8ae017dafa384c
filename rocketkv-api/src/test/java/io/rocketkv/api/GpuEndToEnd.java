package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.testing.ParityCheckpoints;
import java.util.ArrayList;
import java.util.List;

/**
 * What the GPU end-to-end tests share. {@link #compare}: the rule they compare two greedy generations by (a reference and a run under test, e.g. CPU and CUDA,
 * or one GPU and two): both have {@code tokens} tokens; the ids are equal up to a step whose top-2
 * log-probability gap on the reference side is below {@code maxGap} (a near-tie that rounding may decide either
 * way), after which the sequences are not compared; up to there each chosen token's log-probabilities differ by
 * at most {@code logprobTol}. Needs {@code logprobs(2)} in the sampling parameters.
 */
final class GpuEndToEnd {

    private GpuEndToEnd() {
    }

    /**
     * 24 requests (the parity prompts with a number appended) at once, 16 greedy tokens each: every one gets its
     * 16 tokens and the KV pool is empty afterwards.
     */
    static void manyConcurrentRequestsLeaveThePoolEmpty(LLM llm) {
        List<String> base = parityPrompts(llm);
        List<String> many = new ArrayList<>();
        for (int i = 0; i < 24; i++) {
            many.add(base.get(i % base.size()) + " " + i);
        }
        List<RequestOutput> outs = llm.generate(many, SamplingParams.builder().temperature(0.0).maxTokens(16)
                .ignoreEos(true).build());
        assertEquals(many.size(), outs.size());
        for (RequestOutput o : outs) {
            assertEquals(16, o.outputs().get(0).tokenIds().length);
        }
        assertEquals(0, llm.kvCacheBytesInUse(), "every block is back in the pool");
    }

    /** Greedy, {@code tokens} tokens, EOS ignored, with the top 2 log-probabilities that {@link #compare} reads. */
    static SamplingParams greedy(int tokens) {
        return SamplingParams.builder().temperature(0.0).maxTokens(tokens).ignoreEos(true).logprobs(2).build();
    }

    /** The parity prompts ({@link ParityCheckpoints#prompts()}) as text of {@code llm}'s tokenizer. */
    static List<String> parityPrompts(LLM llm) {
        List<String> out = new ArrayList<>();
        for (int[] ids : ParityCheckpoints.prompts()) {
            out.add(llm.tokenizer().decode(ids, true));
        }
        return out;
    }

    static void compare(String what, String refName, String gotName, RequestOutput ref, RequestOutput got,
                        int tokens, double maxGap, double logprobTol) {
        CompletionOutput c = ref.outputs().get(0);
        CompletionOutput g = got.outputs().get(0);
        assertEquals(tokens, c.tokenIds().length, what);
        assertEquals(tokens, g.tokenIds().length, what);
        double worst = 0;
        for (int i = 0; i < tokens; i++) {
            var cl = c.logprobs().get(i);
            var gl = g.logprobs().get(i);
            if (c.tokenIds()[i] != g.tokenIds()[i]) {
                double gap = cl.top().get(0).logprob() - cl.top().get(1).logprob();
                System.out.printf("%s: diverges at step %d (%s %d, %s %d), %s top-2 gap %.4f%n", what, i, refName,
                        c.tokenIds()[i], gotName, g.tokenIds()[i], refName, gap);
                assertTrue(gap < maxGap, what + ": token " + i + " differs (" + refName + " " + c.tokenIds()[i] + ", "
                        + gotName + " " + g.tokenIds()[i] + ") although the " + refName + " top-2 gap is " + gap
                        + " >= " + maxGap);
                break;
            }
            double diff = Math.abs(cl.logprob() - gl.logprob());
            worst = Math.max(worst, diff);
            assertTrue(diff <= logprobTol, what + ": step " + i + " logprob " + refName + " " + cl.logprob() + " "
                    + gotName + " " + gl.logprob());
        }
        System.out.printf("%s: %s, max |logprob difference| %.2e%n", what,
                java.util.Arrays.equals(c.tokenIds(), g.tokenIds()) ? "ids equal" : "ids differ after a near-tie", worst);
    }
}
