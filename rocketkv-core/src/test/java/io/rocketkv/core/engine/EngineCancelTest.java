package io.rocketkv.core.engine;

import static io.rocketkv.core.engine.TinyEngines.get;
import static io.rocketkv.core.engine.TinyEngines.greedy;
import static io.rocketkv.core.engine.TinyEngines.prompts;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cancelling a request's future: the engine drops the sequence (queued or running), frees its KV blocks,
 * stops calling its listener, and the other requests finish with unchanged greedy outputs.
 */
class EngineCancelTest {

    @TempDir
    static Path dir;

    static TinyEngines engines;

    @BeforeAll
    static void writeCheckpoint() throws Exception {
        engines = TinyEngines.write(dir);
    }

    @AfterAll
    static void close() {
        engines.close();
    }

    @Test
    void cancellingARunningRequestFreesItsBlocksAndLeavesOthersUnchanged() throws Exception {
        List<int[]> p = prompts(3, 5, 8);
        GenerationResult expected = engines.oneAtATime(List.of(greedy(p.get(1), 12))).getFirst();
        try (Engine engine = engines.start(new EngineConfig(8, 4096, 1024, 4, 64))) {
            CountDownLatch started = new CountDownLatch(3);
            AtomicInteger tokensAfterCancel = new AtomicInteger();
            CompletableFuture<Boolean> cancelledFlag = new CompletableFuture<>();
            CompletableFuture<GenerationResult> longOne = engine.submit(greedy(p.get(0), 1000, ev -> {
                started.countDown();
                if (cancelledFlag.isDone()) {
                    tokensAfterCancel.incrementAndGet();
                }
            }));
            CompletableFuture<GenerationResult> other = engine.submit(greedy(p.get(1), 12));
            assertTrue(started.await(30, TimeUnit.SECONDS), "the long request started streaming");
            assertTrue(longOne.cancel(true));
            cancelledFlag.complete(true);
            GenerationResult r = get(other);
            assertArrayEquals(expected.outputIds(), r.outputIds(), "the other request's greedy ids");
            waitForEmptyPool(engine);
            int after = tokensAfterCancel.get();
            assertTrue(after <= 1, "at most the step in flight streams after cancel; got " + after);
        }
    }

    @Test
    void cancellingAQueuedRequestRemovesItBeforeItRuns() throws Exception {
        List<int[]> p = prompts(4, 13, 6);
        // a pool of 4 blocks of 4 tokens: the first request (13 + 3 tokens) holds it all, the second waits;
        // the first one's listener holds the engine thread until the second is cancelled
        try (Engine engine = engines.start(new EngineConfig(8, 4096, 1024, 4, 4))) {
            CountDownLatch cancelled = new CountDownLatch(1);
            CompletableFuture<GenerationResult> first = engine.submit(greedy(p.get(0), 3, ev -> {
                try {
                    cancelled.await(10, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            AtomicInteger queuedTokens = new AtomicInteger();
            CompletableFuture<GenerationResult> queued = engine.submit(greedy(p.get(1), 10,
                    ev -> queuedTokens.incrementAndGet()));
            assertTrue(queued.cancel(true));
            cancelled.countDown();
            assertEquals(3, get(first).outputIds().length);
            waitForEmptyPool(engine);
            Thread.sleep(50);
            assertEquals(0, engine.numWaiting() + engine.numRunning(), "nothing left queued or running");
            assertEquals(0, queuedTokens.get(), "tokens generated for the cancelled queued request");
        }
    }

    private static void waitForEmptyPool(Engine engine) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (engine.usedKvBlocks() != 0 && System.nanoTime() < deadline) {
            Thread.sleep(10);
        }
        assertEquals(0, engine.usedKvBlocks(), "KV blocks in use after cancellation");
    }
}
