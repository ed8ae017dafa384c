package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** {@code print_iter_log}'s line says what the step did. */
class IterationLogTest {

    @Test
    void theLineNamesTheStepsKindCountsAndTime() {
        assertEquals("iter 12: decode, 4 requests, 4 tokens, 3 waiting, KV blocks 37/512, 1.23 ms",
                IterationLog.line(12, false, 4, 4, 3, 37, 512, 1_234_000));
        assertEquals("iter 1: prefill, 1 request, 1 token, 0 waiting, KV blocks 1/8, 0.00 ms",
                IterationLog.line(1, true, 1, 1, 0, 1, 8, 0));
    }
}
