package io.rocketkv.examples.serve;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.api.LLM;
import io.rocketkv.api.RequestOutput;
import io.rocketkv.api.SamplingParams;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Holds an LLM's engine thread: a two-token request whose token listener blocks until {@link #close()}, so that
 * requests sent meanwhile wait in the queue. Tests pace the engine with it instead of with time.
 */
final class EngineGate implements AutoCloseable {

    private final CountDownLatch held = new CountDownLatch(1);
    private final CountDownLatch release = new CountDownLatch(1);
    private final CompletableFuture<RequestOutput> request;

    /** Starts the gate request and returns once the engine thread is held in its listener. */
    EngineGate(LLM llm) throws InterruptedException {
        request = llm.generateStream("a", SamplingParams.builder().maxTokens(2).temperature(0.0).ignoreEos(true)
                .build(), chunk -> {
                    held.countDown();
                    try {
                        release.await(60, TimeUnit.SECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                });
        assertTrue(held.await(30, TimeUnit.SECONDS), "the gate holds the engine");
    }

    /** Whether the engine thread is still held. */
    boolean holding() {
        return release.getCount() == 1;
    }

    /** Lets the engine go on and waits for the gate request to finish. */
    @Override
    public void close() throws Exception {
        release.countDown();
        request.get(30, TimeUnit.SECONDS);
    }
}
