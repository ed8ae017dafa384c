package io.rocketkv.core.engine;

import static io.rocketkv.core.engine.TinyEngines.failure;
import static io.rocketkv.core.engine.TinyEngines.get;
import static io.rocketkv.core.engine.TinyEngines.greedy;
import static io.rocketkv.core.engine.TinyEngines.prompts;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kvcache.KvCacheExhaustedException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The engine end to end on a tiny random Llama: KV-pool exhaustion and preemption, requests that can never
 * fit, {@code max_seq_len}, {@code max_batch_size}. Greedy outputs of every batched, squeezed or preempted
 * run must equal those of the same requests run one at a time with a roomy pool.
 */
class EngineTest {

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
    void tightPoolPreemptsAndRecomputesWithoutChangingGreedyOutputs() throws Exception {
        // 3 requests grow to 26, 29 and 27 tokens = 7 + 8 + 7 blocks of 4; the pool has 12: each fits alone,
        // all three prompts fit at once (2 + 3 + 2 blocks), but they cannot all grow together.
        List<int[]> prompts = prompts(1, 6, 9, 7);
        List<GenerationRequest> plain = new ArrayList<>();
        for (int[] p : prompts) {
            plain.add(greedy(p, 20));
        }
        List<GenerationResult> expected = engines.oneAtATime(plain);

        List<List<Integer>> streamed = new ArrayList<>();
        List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
        try (Engine engine = engines.start(new EngineConfig(8, 4096, 1024, 4, 12))) {
            for (int[] p : prompts) {
                List<Integer> ids = new CopyOnWriteArrayList<>();
                streamed.add(ids);
                futures.add(engine.submit(greedy(p, 20, ev -> ids.add(ev.token().tokenId()))));
            }
            int preemptions = 0;
            for (int i = 0; i < prompts.size(); i++) {
                GenerationResult r = get(futures.get(i));
                GenerationResult e = expected.get(i);
                assertArrayEquals(e.outputIds(), r.outputIds(), "request " + i + ": greedy ids after preemption");
                assertEquals(FinishReason.LENGTH, r.finishReason());
                assertEquals(e.text(), r.text(), "request " + i + ": text");
                for (int t = 0; t < e.tokens().size(); t++) {
                    assertEquals(e.tokens().get(t).logprob(), r.tokens().get(t).logprob(), 1e-4,
                            "request " + i + ": logprob of token " + t);
                }
                // a recomputed prefill samples the next token only: no token is streamed twice
                assertEquals(toList(r.outputIds()), streamed.get(i), "request " + i + ": streamed ids");
                assertEquals(20, r.metrics().generatedTokens());
                preemptions += r.metrics().preemptions();
            }
            assertTrue(preemptions > 0, "the pool of 12 blocks must force at least one preemption");
            assertEquals(0, engine.usedKvBlocks(), "every block returns to the pool");
        }
    }

    @Test
    void seededSamplingSurvivesPreemption() throws Exception {
        // each request owns its random generator; a recompute draws nothing, so the samples stay the same
        List<int[]> prompts = prompts(12, 6, 9, 7);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            SamplingOptions seeded = SamplingOptions.builder().temperature(0.8).topP(0.9).seed(100L + i).build();
            requests.add(new GenerationRequest(prompts.get(i), seeded,
                    StopCriteria.builder().maxTokens(20).ignoreEos(true).build(), null));
        }
        List<GenerationResult> expected = engines.oneAtATime(requests);
        try (Engine engine = engines.start(new EngineConfig(8, 4096, 1024, 4, 12))) {
            List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
            for (GenerationRequest r : requests) {
                futures.add(engine.submit(r));
            }
            int preemptions = 0;
            for (int i = 0; i < futures.size(); i++) {
                GenerationResult r = get(futures.get(i));
                assertArrayEquals(expected.get(i).outputIds(), r.outputIds(), "request " + i);
                preemptions += r.metrics().preemptions();
            }
            assertTrue(preemptions > 0);
        }
    }

    @Test
    void aThrowingListenerDoesNotEndItsRequest() throws Exception {
        int[] prompt = prompts(13, 5).getFirst();
        GenerationResult expected = engines.oneAtATime(List.of(greedy(prompt, 6))).getFirst();
        try (Engine engine = engines.startRoomy()) {
            GenerationResult r = get(engine.submit(greedy(prompt, 6, ev -> {
                throw new IllegalStateException("listener bug");
            })));
            assertArrayEquals(expected.outputIds(), r.outputIds());
        }
    }

    @Test
    void manyRequestsThroughATinyPoolAllComplete() throws Exception {
        // 6 requests, each up to 8 blocks, through a pool of 9 blocks: heavy queueing and preemption
        List<int[]> prompts = prompts(2, 5, 12, 3, 9, 14, 7);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            requests.add(greedy(prompts.get(i), 30 - prompts.get(i).length));
        }
        List<GenerationResult> expected = engines.oneAtATime(requests);
        try (Engine engine = engines.start(new EngineConfig(4, 4096, 1024, 4, 9))) {
            List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
            for (GenerationRequest r : requests) {
                futures.add(engine.submit(r));
            }
            int preemptions = 0;
            for (int i = 0; i < futures.size(); i++) {
                GenerationResult r = get(futures.get(i));
                assertArrayEquals(expected.get(i).outputIds(), r.outputIds(), "request " + i);
                preemptions += r.metrics().preemptions();
            }
            assertTrue(preemptions > 0, "a pool of 9 blocks for 6 requests must preempt");
            assertEquals(0, engine.usedKvBlocks());
        }
    }

    @Test
    void promptLargerThanThePoolFailsWhileOthersComplete() throws Exception {
        List<int[]> prompts = prompts(3, 6, 21, 5);  // 21 tokens = 6 blocks of 4 > the pool's 5
        List<GenerationResult> expected = engines.oneAtATime(List.of(greedy(prompts.get(0), 8), greedy(prompts.get(2), 8)));
        try (Engine engine = engines.start(new EngineConfig(8, 4096, 1024, 4, 5))) {
            var first = engine.submit(greedy(prompts.get(0), 8));
            var huge = engine.submit(greedy(prompts.get(1), 8));
            var last = engine.submit(greedy(prompts.get(2), 8));

            Throwable t = failure(huge);
            var e = assertInstanceOf(KvCacheExhaustedException.class, t);
            assertEquals(6, e.blocksNeeded());
            assertEquals(5, e.blocksTotal());
            assertTrue(t.getMessage().contains("6 blocks") && t.getMessage().contains("of 5 blocks"), t.getMessage());

            assertArrayEquals(expected.get(0).outputIds(), get(first).outputIds());
            assertArrayEquals(expected.get(1).outputIds(), get(last).outputIds());
            assertEquals(0, engine.usedKvBlocks());
        }
    }

    @Test
    void sequenceGrowingPastTheWholePoolFailsAndTheEngineGoesOn() throws Exception {
        // the pool holds 16 tokens; a 6-token prompt asked for 40 more outgrows it
        List<int[]> prompts = prompts(4, 6, 5);
        GenerationResult expectedSmall = engines.oneAtATime(List.of(greedy(prompts.get(1), 6))).getFirst();
        try (Engine engine = engines.start(new EngineConfig(8, 4096, 1024, 4, 4))) {
            List<Integer> streamed = new CopyOnWriteArrayList<>();
            var big = engine.submit(greedy(prompts.get(0), 40, ev -> streamed.add(ev.token().tokenId())));
            Throwable t = failure(big);
            var e = assertInstanceOf(KvCacheExhaustedException.class, t);
            assertEquals(4, e.blocksTotal());
            assertTrue(t.getMessage().contains("block"), t.getMessage());
            // it generated until its 16 tokens filled the pool (the 17th needs a block that does not exist)
            assertEquals(16 - 6 + 1, streamed.size(), "tokens streamed before the failure");
            assertEquals(0, engine.usedKvBlocks());

            GenerationResult small = get(engine.submit(greedy(prompts.get(1), 6)));
            assertArrayEquals(expectedSmall.outputIds(), small.outputIds(), "the engine still serves requests");
            assertEquals(0, engine.usedKvBlocks());
        }
    }

    @Test
    void sequenceOutgrowingThePoolBesideOthersFailsAloneAndTheOthersComplete() throws Exception {
        // the big one first preempts the small ones (newest first), then outgrows the pool alone and fails;
        // the small ones are recomputed and finish with the same greedy outputs
        List<int[]> prompts = prompts(5, 6, 4, 5);
        List<GenerationResult> expected = engines.oneAtATime(List.of(greedy(prompts.get(1), 10), greedy(prompts.get(2), 10)));
        try (Engine engine = engines.start(new EngineConfig(8, 4096, 1024, 4, 6))) {
            var big = engine.submit(greedy(prompts.get(0), 100));
            var small1 = engine.submit(greedy(prompts.get(1), 10));
            var small2 = engine.submit(greedy(prompts.get(2), 10));
            assertInstanceOf(KvCacheExhaustedException.class, failure(big));
            GenerationResult r1 = get(small1);
            GenerationResult r2 = get(small2);
            assertArrayEquals(expected.get(0).outputIds(), r1.outputIds());
            assertArrayEquals(expected.get(1).outputIds(), r2.outputIds());
            assertTrue(r1.metrics().preemptions() + r2.metrics().preemptions() > 0, "the big one preempted them");
            assertEquals(0, engine.usedKvBlocks());
        }
    }

    @Test
    void promptLongerThanMaxSeqLenFailsWhileOthersInFlightComplete() throws Exception {
        List<int[]> prompts = prompts(6, 7, 33, 5);
        List<GenerationResult> expected = engines.oneAtATime(List.of(greedy(prompts.get(0), 12), greedy(prompts.get(2), 12)));
        try (Engine engine = engines.start(new EngineConfig(8, 4096, 32, 4, 64))) {
            var before = engine.submit(greedy(prompts.get(0), 12));
            var tooLong = engine.submit(greedy(prompts.get(1), 4));
            var after = engine.submit(greedy(prompts.get(2), 12));

            Throwable t = failure(tooLong);
            assertInstanceOf(IllegalArgumentException.class, t);
            assertTrue(t.getMessage().contains("max_seq_len") && t.getMessage().contains("33"), t.getMessage());

            assertArrayEquals(expected.get(0).outputIds(), get(before).outputIds());
            assertArrayEquals(expected.get(1).outputIds(), get(after).outputIds());
            assertEquals(0, engine.usedKvBlocks());
        }
    }

    @Test
    void outputStopsWithLengthAtMaxSeqLen() throws Exception {
        List<int[]> prompts = prompts(7, 10, 31);
        GenerationResult unlimited = engines.oneAtATime(List.of(greedy(prompts.get(0), 40))).getFirst();
        try (Engine engine = engines.start(new EngineConfig(8, 4096, 32, 4, 64))) {
            GenerationResult r = get(engine.submit(greedy(prompts.get(0), 40)));
            assertEquals(FinishReason.LENGTH, r.finishReason());
            assertEquals(32 - 10, r.outputIds().length, "prompt + output = max_seq_len");
            assertArrayEquals(Arrays.copyOf(unlimited.outputIds(), 22), r.outputIds());
            assertEquals(22, r.metrics().generatedTokens());

            // one token of room left: exactly one token
            GenerationResult edge = get(engine.submit(greedy(prompts.get(1), 40)));
            assertEquals(FinishReason.LENGTH, edge.finishReason());
            assertEquals(1, edge.outputIds().length);
            assertEquals(0, engine.usedKvBlocks());
        }
    }

    @Test
    void maxBatchSizeIsRespectedAndDoesNotChangeResults() throws Exception {
        List<int[]> prompts = prompts(8, 4, 11, 7, 9, 5);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int[] p : prompts) {
            requests.add(greedy(p, 10));
        }
        List<GenerationResult> expected = engines.oneAtATime(requests);
        try (Engine engine = engines.start(new EngineConfig(2, 4096, 1024, 4, 1024))) {
            // each listener records how many requests have started but not finished when it is called:
            // requests are admitted only while fewer than max_batch_size run
            int[] active = new int[1];
            int[] maxActive = new int[1];
            List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
            for (GenerationRequest r : requests) {
                boolean[] started = new boolean[1];
                futures.add(engine.submit(new GenerationRequest(r.promptIds(), r.sampling(), r.stop(), ev -> {
                    if (!started[0]) {
                        started[0] = true;
                        active[0]++;
                        maxActive[0] = Math.max(maxActive[0], active[0]);
                    }
                    if (ev.finished() != null) {
                        active[0]--;
                    }
                })));
            }
            for (int i = 0; i < futures.size(); i++) {
                GenerationResult r = get(futures.get(i));
                assertArrayEquals(expected.get(i).outputIds(), r.outputIds(), "request " + i);
                assertEquals(expected.get(i).text(), r.text(), "request " + i);
            }
            assertEquals(2, maxActive[0], "requests running at once");
            assertEquals(0, engine.usedKvBlocks());
        }
    }

    @Test
    void batchedRequestsEqualRequestsRunAlone() throws Exception {
        List<int[]> prompts = prompts(9, 3, 17, 8, 1, 12, 25, 6, 10);
        List<GenerationRequest> requests = new ArrayList<>();
        for (int i = 0; i < prompts.size(); i++) {
            requests.add(greedy(prompts.get(i), 5 + 2 * i));   // different lengths: the batch shrinks as they finish
        }
        List<GenerationResult> expected = engines.oneAtATime(requests);
        try (Engine engine = engines.startRoomy()) {
            List<CompletableFuture<GenerationResult>> futures = new ArrayList<>();
            for (GenerationRequest r : requests) {
                futures.add(engine.submit(r));
            }
            for (int i = 0; i < futures.size(); i++) {
                GenerationResult r = get(futures.get(i));
                assertArrayEquals(expected.get(i).outputIds(), r.outputIds(), "request " + i);
                assertEquals(prompts.get(i).length, r.metrics().promptTokens());
                assertEquals(0, r.metrics().preemptions());
                assertTrue(r.metrics().kvCacheBytesPeak() > 0);
            }
        }
    }

    @Test
    void streamedDeltasAddUpToTheTextWhateverEndsTheRequest() throws Exception {
        // greedy outputs of a random model: byte tokens, incomplete UTF-8, control characters
        List<int[]> prompts = prompts(11, 5, 9, 13, 4, 7, 6);
        List<GenerationResult> plain = engines.oneAtATime(prompts.stream().map(p -> greedy(p, 30)).toList());
        try (Engine engine = engines.startRoomy()) {
            int checked = 0;
            for (int i = 0; i < prompts.size(); i++) {
                GenerationResult full = plain.get(i);
                String text = full.text();
                int[] ids = full.outputIds();
                List<StopCriteria> stops = new ArrayList<>();
                Supplier<StopCriteria.Builder> upTo30 = () -> StopCriteria.builder().maxTokens(30).ignoreEos(true);
                stops.add(upTo30.get().build());                                    // length
                stops.add(upTo30.get().stopTokenIds(List.of(ids[10])).build());     // a stop token
                // stop strings (a U+FFFD that an incomplete UTF-8 tail decodes to is no text to match yet)
                String early = window(text, 8, 3);
                String late = window(text, text.length() - 8, 2);
                if (early != null && late != null) {
                    stops.add(upTo30.get().stopStrings(List.of(early)).build());
                    stops.add(upTo30.get().stopStrings(List.of("\u0000\u0000\u0000\u0000", late)).build());
                }
                for (StopCriteria stop : stops) {
                    StringBuilder streamed = new StringBuilder();
                    List<FinishReason> reasons = new CopyOnWriteArrayList<>();
                    var request = new GenerationRequest(prompts.get(i), SamplingOptions.GREEDY, stop, ev -> {
                        streamed.append(ev.textDelta());
                        if (ev.finished() != null) {
                            reasons.add(ev.finished());
                        }
                    });
                    GenerationResult r = get(engine.submit(request));
                    String what = "prompt " + i + ", " + stop;
                    assertEquals(r.text(), streamed.toString(), what + ": streamed text");
                    assertEquals(List.of(r.finishReason()), reasons, what);
                    if (!stop.stopStrings().isEmpty()) {
                        int cut = stop.stopStrings().stream().mapToInt(text::indexOf).filter(x -> x >= 0).min().orElseThrow();
                        assertEquals(text.substring(0, cut), r.text(), what + ": cut before the stop string");
                    } else if (!stop.stopTokenIds().isEmpty()) {
                        int k = firstIndexOf(ids, ids[10]);
                        assertArrayEquals(Arrays.copyOf(ids, k + 1), r.outputIds(), what);
                        assertEquals(engines.decode(Arrays.copyOf(ids, k)), r.text(),
                                what + ": the stop token's text is left out");
                    } else {
                        assertEquals(text, r.text(), what);
                    }
                    checked++;
                }
            }
            assertTrue(checked >= 20, checked + " cases");
        }
    }

    /** The first {@code len} characters of text at or after {@code from} with no U+FFFD, or null. */
    private static String window(String text, int from, int len) {
        for (int at = Math.max(0, from); at + len <= text.length(); at++) {
            String w = text.substring(at, at + len);
            if (!w.contains("\uFFFD")) {
                return w;
            }
        }
        return null;
    }

    private static int firstIndexOf(int[] a, int x) {
        for (int i = 0; i < a.length; i++) {
            if (a[i] == x) {
                return i;
            }
        }
        return -1;
    }

    @Test
    void submitAfterCloseIsRefusedAndPendingRequestsFail() throws Exception {
        Engine engine = engines.startRoomy();
        var pending = engine.submit(greedy(prompts(10, 8).getFirst(), 100_000));
        engine.close();
        assertInstanceOf(IllegalStateException.class, failure(pending));
        var e = assertThrows(IllegalStateException.class,
                () -> engine.submit(greedy(new int[] {1, 2}, 1)));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
    }

    private static List<Integer> toList(int[] a) {
        List<Integer> l = new ArrayList<>();
        for (int x : a) {
            l.add(x);
        }
        return l;
    }
}
