package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kvcache.KvCacheExhaustedException;
import io.rocketkv.core.kvcache.KvCacheManager;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;

/**
 * The scheduler alone, with no model: each "step" appends a dummy token to every scheduled sequence, as the
 * engine's postprocess does, and finishes sequences at their {@code maxTokens}. Checks the batch limits, the
 * KV bookkeeping at every step, the preemption order and the failures.
 */
class SchedulerTest {

    private static final Detokenizer NO_TEXT = ids -> "";

    private long nextId;

    private Sequence seq(int promptLength, int maxTokens) {
        int[] prompt = new int[promptLength];
        return new Sequence(nextId++, new GenerationRequest(prompt, SamplingOptions.GREEDY,
                StopCriteria.builder().maxTokens(maxTokens).ignoreEos(true).build(), null), System.nanoTime());
    }

    /** Drives scheduler and KV manager like the engine, checking invariants at every step. */
    private static final class Harness {
        final EngineConfig config;
        final KvCacheManager kv;
        final Scheduler scheduler;
        final List<Scheduler.Batch> batches = new ArrayList<>();
        int steps;

        Harness(EngineConfig config) {
            this.config = config;
            this.kv = new KvCacheManager(config.numBlocks(), config.tokensPerBlock());
            this.scheduler = new Scheduler(config, kv);
        }

        Scheduler.Batch step() {
            Scheduler.Batch b = scheduler.schedule();
            batches.add(b);
            steps++;
            for (Sequence f : b.failed()) {
                assertTrue(f.result.isCompletedExceptionally(), "a failed sequence's future has failed");
                assertFalse(kv.contains(f.id), "a failed sequence holds no blocks");
                scheduler.finish(f);
            }
            assertTrue(b.seqs().size() <= config.maxBatchSize(), "batch of " + b.seqs().size() + " > max_batch_size");
            int tokens = 0;
            Set<Long> ids = new HashSet<>();
            for (Sequence s : b.seqs()) {
                assertTrue(ids.add(s.id), "a sequence is scheduled once per step");
                assertEquals(Sequence.Status.RUNNING, s.status);
                // the KV cache holds a slot for every token the step feeds, no more
                assertEquals(s.numTokens(), kv.numTokens(s.id), s + ": KV tokens");
                tokens += b.prefill() ? s.numTokens() : 1;
            }
            if (b.prefill() && b.seqs().size() > 1) {
                assertTrue(tokens <= config.maxNumTokens(), "prefill of " + tokens + " tokens > max_num_tokens");
            }
            assertTrue(kv.numUsedBlocks() <= kv.numBlocks());
            for (Sequence s : b.seqs()) {
                s.append(new SampledToken(7, -1f, List.of()), NO_TEXT);
                if (s.numOutputs() >= s.request.stop().maxTokens()) {
                    s.finish(FinishReason.LENGTH, -1, false, NO_TEXT);
                    scheduler.finish(s);
                    s.result.complete(s.toResult(0));
                }
            }
            return b;
        }

        void runToEnd() {
            while (scheduler.hasWork()) {
                step();
                assertTrue(steps < 10_000, "the scheduler makes progress");
            }
            assertEquals(0, kv.numUsedBlocks(), "every block returns to the pool");
            assertEquals(0, kv.numSequences());
        }
    }

    @Test
    void batchesNeverExceedMaxBatchSize() {
        Harness h = new Harness(new EngineConfig(2, 4096, 1024, 4, 1024));
        List<Sequence> seqs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            Sequence s = seq(3 + i, 4 + i);
            seqs.add(s);
            h.scheduler.add(s);
        }
        h.runToEnd();
        for (Sequence s : seqs) {
            assertTrue(s.result.isDone() && !s.result.isCompletedExceptionally());
            assertEquals(s.request.stop().maxTokens(), s.numOutputs());
        }
        assertTrue(h.batches.stream().anyMatch(b -> b.seqs().size() == 2), "batches fill up to the limit");
        assertEquals(2, h.batches.getFirst().seqs().size());
    }

    @Test
    void prefillRespectsMaxNumTokensButALongPromptStillRunsAlone() {
        Harness h = new Harness(new EngineConfig(8, 13, 1024, 4, 1024));
        Sequence a = seq(6, 2);
        Sequence b = seq(6, 2);
        Sequence c = seq(6, 2);
        h.scheduler.add(a);
        h.scheduler.add(b);
        h.scheduler.add(c);
        Scheduler.Batch first = h.step();
        assertTrue(first.prefill());
        assertEquals(List.of(a, b), first.seqs(), "12 tokens fit in 13, 18 do not");
        Scheduler.Batch second = h.step();
        assertFalse(second.prefill(), "a and b decode before the next prefill");
        assertEquals(List.of(a, b), second.seqs());
        Scheduler.Batch third = h.step();
        assertTrue(third.prefill());
        assertEquals(List.of(c), third.seqs());
        h.runToEnd();

        // a recomputed sequence may exceed max_num_tokens; alone, it is still scheduled
        Harness alone = new Harness(new EngineConfig(8, 4, 1024, 4, 1024));
        Sequence big = seq(9, 1);
        alone.scheduler.add(big);
        assertEquals(List.of(big), alone.step().seqs());
        alone.runToEnd();
    }

    @Test
    void aQueueOfLongPromptsDoesNotStopTheRunningRequests() {
        // max_num_tokens 100: one 80-token prompt per prefill step
        Harness h = new Harness(new EngineConfig(16, 100, 1024, 4, 4096));
        Sequence shortA = seq(5, 40);
        Sequence shortB = seq(6, 40);
        h.scheduler.add(shortA);
        h.scheduler.add(shortB);
        assertTrue(h.step().prefill()); // step 0: both short prompts
        List<Sequence> longs = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            Sequence l = seq(80, 3);
            longs.add(l);
            h.scheduler.add(l);
        }
        int[] firstTokenStep = new int[longs.size()];
        int[] doneStep = new int[longs.size()];
        int[] shortTokensAtFirstToken = new int[longs.size()];
        int shortDoneStep = -1;
        boolean previousWasPrefill = true;
        while (h.scheduler.hasWork()) {
            int step = h.steps;
            boolean anyRunning = h.scheduler.numRunning() > 0;
            Scheduler.Batch b = h.step();
            assertFalse(b.prefill() && previousWasPrefill && anyRunning,
                    "step " + step + ": two prefill steps in a row while requests were running");
            previousWasPrefill = b.prefill();
            for (int i = 0; i < longs.size(); i++) {
                Sequence l = longs.get(i);
                if (b.seqs().contains(l) && b.prefill()) {
                    firstTokenStep[i] = step;
                    shortTokensAtFirstToken[i] = shortA.numOutputs();
                }
                if (b.seqs().contains(l) && l.result.isDone()) {
                    doneStep[i] = step;
                }
            }
            if (shortDoneStep < 0 && shortA.result.isDone()) {
                shortDoneStep = step;
            }
            assertTrue(h.steps < 1000, "the scheduler makes progress");
        }
        h.runToEnd();
        for (int i = 0; i < longs.size(); i++) {
            // step 1 decodes the short ones; then long i is prefilled at step 2 + 2i, one decode step between
            assertEquals(2 + 2 * i, firstTokenStep[i], "time to first token of long prompt " + i + " (in steps)");
            // ... while the short requests got a token at every decode step: 1 from their prefill, i + 1 since
            assertEquals(1 + (i + 1), shortTokensAtFirstToken[i], "short request's tokens when long " + i + " starts");
            // 3 tokens: its prefill and the next two decode steps (back to back for the last: nothing waits then)
            int expected = firstTokenStep[i] + (i < longs.size() - 1 ? 3 : 2);
            assertEquals(expected, doneStep[i], "long prompt " + i + " finishes two decode steps later");
        }
        // completion order: each long request (3 tokens) finishes before the short ones (40 tokens), in arrival order
        for (int i = 1; i < longs.size(); i++) {
            assertTrue(doneStep[i - 1] < doneStep[i]);
        }
        assertTrue(doneStep[longs.size() - 1] < shortDoneStep);
        // 11 tokens when the last long prompt was prefilled (step 20), then one per step: the 40th at step 49
        assertEquals(20 + (40 - 11), shortDoneStep);
    }

    @Test
    void withNothingRunningPrefillStepsFollowEachOther() {
        // one-token requests finish at their prefill: nothing waits to decode, so no step is spent on it
        Harness h = new Harness(new EngineConfig(16, 10, 1024, 4, 1024));
        for (int i = 0; i < 3; i++) {
            h.scheduler.add(seq(8, 1));
        }
        for (int i = 0; i < 3; i++) {
            Scheduler.Batch b = h.step();
            assertTrue(b.prefill(), "step " + i);
            assertEquals(1, b.seqs().size());
        }
        h.runToEnd();
        assertEquals(3, h.steps);
    }

    @Test
    void preemptionTakesTheNewestThenItselfAndRecomputesInOrder() {
        // 3 sequences of 4 tokens fill a pool of 3 blocks of 4; each needs a second block for its 5th token
        Harness h = new Harness(new EngineConfig(8, 4096, 1024, 4, 3));
        Sequence a = seq(4, 8);
        Sequence b = seq(4, 8);
        Sequence c = seq(4, 8);
        h.scheduler.add(a);
        h.scheduler.add(b);
        h.scheduler.add(c);
        Scheduler.Batch prefill = h.step();
        assertTrue(prefill.prefill());
        assertEquals(List.of(a, b, c), prefill.seqs());
        assertEquals(0, h.kv.numFreeBlocks());

        // a needs a block: the newest (c) is preempted; b then needs one too, with only a's blocks left
        // besides its own, so b preempts itself
        Scheduler.Batch decode = h.step();
        assertFalse(decode.prefill());
        assertEquals(List.of(a), decode.seqs());
        assertEquals(0, a.preemptions);
        assertEquals(1, b.preemptions);
        assertEquals(1, c.preemptions);
        assertEquals(Sequence.Status.WAITING, b.status);
        assertEquals(Sequence.Status.WAITING, c.status);
        assertFalse(h.kv.contains(b.id) || h.kv.contains(c.id), "a preempted sequence's blocks are freed");
        assertEquals(2, h.scheduler.numWaiting());

        // the preempted ones come back in age order, each recomputing its prompt and its one output
        Scheduler.Batch next;
        do {
            next = h.step();
        } while (!next.prefill());
        assertEquals(8, a.numOutputs(), "a ran to the end before b's 2 blocks were free");
        assertEquals(List.of(b), next.seqs(), "the older preempted sequence comes back first");
        assertEquals(6, b.numTokens(), "recompute fed prompt + 1 output and sampled one more");
        h.runToEnd();
        for (Sequence s : List.of(a, b, c)) {
            assertFalse(s.result.isCompletedExceptionally());
            assertEquals(8, s.numOutputs());
        }
    }

    @Test
    void promptLargerThanThePoolFailsAndTheQueueMovesOn() throws Exception {
        Harness h = new Harness(new EngineConfig(8, 4096, 1024, 4, 5));
        Sequence ok1 = seq(3, 2);
        Sequence huge = seq(21, 2);
        Sequence ok2 = seq(5, 2);
        h.scheduler.add(ok1);
        h.scheduler.add(huge);
        h.scheduler.add(ok2);
        Scheduler.Batch b = h.step();
        assertEquals(List.of(huge), b.failed());
        assertEquals(List.of(ok1, ok2), b.seqs());
        var e = assertInstanceOf(KvCacheExhaustedException.class, cause(huge));
        assertEquals(6, e.blocksNeeded());
        assertTrue(e.getMessage().contains("needs 6 blocks of 4 tokens") && e.getMessage().contains("of 5 blocks"),
                e.getMessage());
        h.runToEnd();
    }

    @Test
    void sequenceOutgrowingThePoolFailsInsteadOfLooping() throws Exception {
        Harness h = new Harness(new EngineConfig(8, 4096, 1024, 4, 3));
        Sequence big = seq(5, 100);
        Sequence small = seq(2, 3);
        h.scheduler.add(big);
        h.scheduler.add(small);
        h.runToEnd();
        var e = assertInstanceOf(KvCacheExhaustedException.class, cause(big));
        assertEquals(3, e.blocksTotal());
        assertEquals(12 - 5 + 1, big.numOutputs(), "it ran until the pool's 12 slots were full");
        assertFalse(small.result.isCompletedExceptionally());
        assertEquals(3, small.numOutputs());
    }

    @Test
    void randomWorkloadsFinishWithinTheLimitsAndOnlyOversizedSequencesFail() throws Exception {
        SplittableRandom r = new SplittableRandom(99);
        int failures = 0;
        int preemptions = 0;
        for (int round = 0; round < 200; round++) {
            int tpb = 1 << r.nextInt(4);
            int blocks = 4 + r.nextInt(30);
            Harness h = new Harness(new EngineConfig(1 + r.nextInt(6), 8 + r.nextInt(64), 1024, tpb, blocks));
            int pool = (int) h.config.poolTokens();
            List<Sequence> seqs = new ArrayList<>();
            int n = 1 + r.nextInt(10);
            for (int i = 0; i < n; i++) {
                // mostly sequences that fit the pool alone at their full length; some that cannot
                int total = r.nextInt(8) == 0 ? pool + 2 + r.nextInt(8) : 2 + r.nextInt(Math.min(pool, 60) - 1);
                int prompt = 1 + r.nextInt(Math.min(total - 1, h.config.maxNumTokens()));
                Sequence s = seq(prompt, total - prompt);
                seqs.add(s);
                h.scheduler.add(s);
            }
            h.runToEnd();
            for (Sequence s : seqs) {
                // the last sampled token is never fed, so a sequence needs slots for all tokens but one
                boolean fits = s.promptLength() + s.request.stop().maxTokens() - 1 <= pool;
                if (fits) {
                    assertFalse(s.result.isCompletedExceptionally(), "round " + round + ": " + s);
                    assertEquals(s.request.stop().maxTokens(), s.numOutputs(), "round " + round + ": " + s);
                } else {
                    assertInstanceOf(KvCacheExhaustedException.class, cause(s), "round " + round + ": " + s);
                    failures++;
                }
                preemptions += s.preemptions;
            }
        }
        assertTrue(failures > 0 && preemptions > 0, failures + " failures, " + preemptions + " preemptions");
    }

    private static Throwable cause(Sequence s) throws InterruptedException {
        assertTrue(s.result.isCompletedExceptionally(), s + " should have failed");
        try {
            s.result.get();
            throw new AssertionError("unreachable");
        } catch (ExecutionException e) {
            return e.getCause();
        }
    }
}
