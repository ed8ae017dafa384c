package io.rocketkv.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rule the GPU tests compare two greedy generations by (a reference and a run under test, e.g. CPU and CUDA,
 * or one GPU and two): both have {@code tokens} tokens; the ids are equal up to a step whose top-2
 * log-probability gap on the reference side is below {@code maxGap} (a near-tie that rounding may decide either
 * way), after which the sequences are not compared; up to there each chosen token's log-probabilities differ by
 * at most {@code logprobTol}. Needs {@code logprobs(2)} in the sampling parameters.
 */
final class GreedyComparison {

    private GreedyComparison() {
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
