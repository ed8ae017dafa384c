package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kvcache.KvCacheManager;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The scheduler's chunked-prefill policy, with no model: the order of chunks and decodes, preemption and abort. */
class ChunkedSchedulerTest {

    private static final Detokenizer NO_TEXT = ids -> "";
    private long nextId;

    private Sequence seq(int promptLength, int maxTokens) {
        return new Sequence(nextId++, new GenerationRequest(new int[promptLength], SamplingOptions.GREEDY,
                StopCriteria.builder().maxTokens(maxTokens).ignoreEos(true).build(), null), System.nanoTime());
    }

    /** What the engine does after a step: a token for every sequence the step samples. */
    private static void sample(Scheduler.Batch b) {
        for (int i = 0; i < b.seqs().size(); i++) {
            if (b.samples(i)) {
                b.seqs().get(i).append(new SampledToken(7, -1f, List.of()), NO_TEXT);
            }
        }
    }

    private static String describe(Scheduler.Batch b) {
        StringBuilder s = new StringBuilder(b.prefill() ? "P" : "D");
        for (int i = 0; i < b.seqs().size(); i++) {
            s.append(' ').append(b.seqs().get(i).id);
            if (b.prefill()) {
                s.append('[').append(b.chunkStart()[i]).append(',').append(b.chunkEnd()[i]).append(')');
            }
        }
        return s.toString();
    }

    @Test
    void chunksAlternateWithDecodesAndShareAStepWithWholePrompts() {
        EngineConfig cfg = new EngineConfig(4, 16, 1024, 4, 100).withChunkedPrefill(true);
        KvCacheManager kv = new KvCacheManager(100, 4);
        Scheduler s = new Scheduler(cfg, kv);
        Sequence a = seq(6, 100);
        Sequence b = seq(40, 100);
        Sequence c = seq(5, 100);
        s.add(a);
        s.add(b);
        s.add(c);
        StringBuilder order = new StringBuilder();
        for (int step = 0; step < 8; step++) {
            Scheduler.Batch batch = s.schedule();
            order.append(describe(batch)).append(" | ");
            if (batch.prefill()) {
                for (int i = 0; i < batch.seqs().size(); i++) {
                    Sequence q = batch.seqs().get(i);
                    assertEquals(q.numTokens(), kv.numTokens(q.id),
                            "a chunked sequence holds the blocks of its whole prefill from its first chunk");
                }
            }
            sample(batch);
        }
        // A whole + B's first 10 tokens; decode A; B's next 16; decode A; B's last 14 (C, 5 tokens, does not fit the
        // 2 left and may not start a second chunk in the step); decode A and B; C whole; decodes
        assertEquals("P 0[0,6) 1[0,10) | D 0 | P 1[10,26) | D 0 | P 1[26,40) | D 0 1 | P 2[0,5) | D 0 1 2 | ",
                order.toString());
    }

    @Test
    void onlyOneSequenceIsPrefilledInChunksAtATime() {
        EngineConfig cfg = new EngineConfig(4, 16, 1024, 4, 100).withChunkedPrefill(true);
        KvCacheManager kv = new KvCacheManager(100, 4);
        Scheduler s = new Scheduler(cfg, kv);
        Sequence b = seq(20, 100);
        Sequence c = seq(30, 100);
        s.add(b);
        s.add(c);
        Scheduler.Batch one = s.schedule();
        assertEquals("P 0[0,16)", describe(one));
        sample(one);
        Scheduler.Batch two = s.schedule(); // nothing runs: chunks follow each other
        assertEquals("P 0[16,20)", describe(two), "C waits: its first chunk would be a second chunk in the step");
        sample(two);
        assertFalse(s.schedule().prefill(), "B runs now: a decode step");
        Scheduler.Batch three = s.schedule();
        assertEquals("P 1[0,16)", describe(three));
    }

    @Test
    void aSequencePreemptedOrAbortedMidPrefillFreesItsBlocksAndRestartsAtItsFirstToken() {
        EngineConfig cfg = new EngineConfig(4, 8, 1024, 4, 10).withChunkedPrefill(true);
        KvCacheManager kv = new KvCacheManager(10, 4);
        Scheduler s = new Scheduler(cfg, kv);
        Sequence a = seq(4, 100); // 1 block, grows
        Sequence b = seq(28, 100); // 7 blocks
        s.add(a);
        Scheduler.Batch first = s.schedule();
        sample(first);
        s.add(b);
        sample(s.schedule()); // decode A (5 tokens, 2 blocks)
        Scheduler.Batch chunk = s.schedule();
        assertEquals("P 1[0,8)", describe(chunk));
        assertEquals(9, kv.numUsedBlocks(), "A's 2 blocks and B's 7");
        // A grows to 8 tokens in its 2 blocks, then needs a 3rd: 1 free; at 12 tokens a 4th: none, B is preempted
        int preemptedAt = -1;
        for (int step = 0; step < 20 && preemptedAt < 0; step++) {
            Scheduler.Batch batch = s.schedule();
            sample(batch);
            if (b.preemptions == 1) {
                preemptedAt = step;
                assertEquals(Sequence.Status.WAITING, b.status);
                assertFalse(kv.contains(b.id), "B's blocks went back to the pool");
                assertEquals(0, b.prefilled);
            }
        }
        assertTrue(preemptedAt >= 0, "B was preempted");
        // B comes back, from token 0, once its 7 blocks are free: finish A
        s.finish(a);
        Scheduler.Batch again = s.schedule();
        assertEquals("P 1[0,8)", describe(again));
        // aborting it mid-prefill frees its blocks and leaves nothing to do
        s.finish(b);
        assertEquals(0, kv.numUsedBlocks());
        assertFalse(s.hasWork());
    }
}
