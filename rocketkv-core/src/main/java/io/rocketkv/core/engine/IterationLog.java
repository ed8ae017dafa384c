package io.rocketkv.core.engine;

import java.util.Locale;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code print_iter_log}: one INFO line per engine step, as TensorRT-LLM's iteration log, e.g.
 * {@code iter 12: decode, 4 requests, 4 tokens, 3 waiting, KV blocks 37/512, 1.23 ms}. Counting costs a few
 * field reads per step; the line is formatted only when the log is on.
 */
final class IterationLog {

    private static final Logger log = LoggerFactory.getLogger(IterationLog.class);

    private final boolean on;
    private long iteration;

    IterationLog(boolean on) {
        this.on = on;
    }

    /**
     * Logs one step (when on).
     *
     * @param prefill     whether the step prefilled (else it decoded)
     * @param requests    sequences in the step
     * @param tokens      tokens the step ran
     * @param waiting     sequences still waiting after the step was scheduled
     * @param usedBlocks  KV blocks in use after the step
     * @param totalBlocks KV blocks in the pool
     * @param nanos       the step's time (model and sampling)
     */
    void step(boolean prefill, int requests, int tokens, int waiting, int usedBlocks, int totalBlocks, long nanos) {
        iteration++;
        if (on) {
            log.info(line(iteration, prefill, requests, tokens, waiting, usedBlocks, totalBlocks, nanos));
        }
    }

    /** The line for one step. */
    static String line(long iteration, boolean prefill, int requests, int tokens, int waiting, int usedBlocks,
                       int totalBlocks, long nanos) {
        return String.format(Locale.ROOT, "iter %d: %s, %d request%s, %d token%s, %d waiting, KV blocks %d/%d, %.2f ms",
                iteration, prefill ? "prefill" : "decode", requests, requests == 1 ? "" : "s", tokens,
                tokens == 1 ? "" : "s", waiting, usedBlocks, totalBlocks, nanos / 1e6);
    }
}
