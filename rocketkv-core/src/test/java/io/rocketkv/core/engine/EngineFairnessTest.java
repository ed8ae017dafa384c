package io.rocketkv.core.engine;

import static io.rocketkv.core.engine.TinyEngines.TIMEOUT_SECONDS;
import static io.rocketkv.core.engine.TinyEngines.get;
import static io.rocketkv.core.engine.TinyEngines.greedy;
import static io.rocketkv.core.engine.TinyEngines.prompts;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A running request keeps getting tokens while a queue of long prompts is prefilled, through the real engine.
 * The order of events is read from the token listeners, which the engine calls on its thread in step order,
 * so the test counts steps, not time. The queue is filled while a gate request holds the engine thread in its
 * listener, so that every long prompt is waiting when scheduling resumes.
 */
class EngineFairnessTest {

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
    void aRunningRequestDecodesBetweenTheLongPrefills() throws Exception {
        int longLength = 60;
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        // max_num_tokens = one long prompt: each prefill step takes one of them
        try (Engine engine = engines.start(new EngineConfig(16, longLength, 1024, 4, 1024))) {
            List<int[]> p = prompts(5, 5, 3, longLength, longLength, longLength, longLength, longLength, longLength);
            CountDownLatch decoding = new CountDownLatch(2);
            CountDownLatch gateQueued = new CountDownLatch(1);
            CompletableFuture<GenerationResult> running = engine.submit(greedy(p.get(0), 40, ev -> {
                log.add("S");
                decoding.countDown();
                if (decoding.getCount() == 0) {
                    awaitQuietly(gateQueued); // holds the engine thread until the gate is queued: the short
                    // request cannot run out of tokens before the long prompts come (a slow test thread did)
                }
            }));
            assertTrue(decoding.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the short request is decoding");

            CountDownLatch held = new CountDownLatch(1);
            CountDownLatch release = new CountDownLatch(1);
            CompletableFuture<GenerationResult> gate = engine.submit(greedy(p.get(1), 2, ev -> {
                held.countDown();
                try {
                    release.await(TIMEOUT_SECONDS, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }));
            gateQueued.countDown();
            assertTrue(held.await(TIMEOUT_SECONDS, TimeUnit.SECONDS), "the gate holds the engine thread");
            List<CompletableFuture<GenerationResult>> longs = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                String name = "L" + i;
                longs.add(engine.submit(greedy(p.get(2 + i), 2, ev -> log.add(name))));
            }
            assertEquals(6, engine.numWaiting(), "all six long prompts are queued");
            int before = log.size();
            release.countDown();
            for (var f : longs) {
                get(f);
            }
            get(gate);
            GenerationResult shortResult = get(running);

            List<String> after = List.copyOf(log.subList(before, log.size()));
            for (int i = 0; i + 1 < 6; i++) {
                int first = after.indexOf("L" + i);
                int next = after.indexOf("L" + (i + 1));
                assertTrue(first >= 0 && next > first, "long prompts are prefilled in order: " + after);
                assertTrue(after.subList(first, next).contains("S"),
                        "the running request got a token between the prefills of L" + i + " and L" + (i + 1)
                                + ": " + after);
            }
            // the interleaving changes nothing in the answers: each equals its request run alone
            List<GenerationResult> alone = engines.oneAtATime(List.of(greedy(p.get(0), 40),
                    greedy(p.get(2), 2), greedy(p.get(7), 2)));
            assertArrayEquals(alone.get(0).outputIds(), shortResult.outputIds());
            assertArrayEquals(alone.get(1).outputIds(), get(longs.get(0)).outputIds());
            assertArrayEquals(alone.get(2).outputIds(), get(longs.get(5)).outputIds());
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await(TIMEOUT_SECONDS, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
