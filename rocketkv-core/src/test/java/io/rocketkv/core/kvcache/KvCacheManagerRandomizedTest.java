package io.rocketkv.core.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * 20k seeded random allocate / append / truncate / free operations over many sequences, with every invariant
 * checked after every operation against an independent model (the expected token count of each sequence).
 */
class KvCacheManagerRandomizedTest {

    private static final int OPERATIONS = 20_000;
    private static final int MAX_LIVE_SEQUENCES = 48;

    @ParameterizedTest(name = "blocks={0} tokensPerBlock={1} seed={2}")
    @CsvSource({"64, 16, 1", "200, 4, 2", "37, 1, 3", "128, 32, 4"})
    void invariantsHoldUnderRandomOperations(int numBlocks, int tokensPerBlock, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        BlockPool pool = new BlockPool(numBlocks, tokensPerBlock);
        KvCacheManager m = new KvCacheManager(pool);
        Map<Long, Integer> expectedTokens = new HashMap<>();   // the model: seqId -> tokens it should hold
        List<Long> live = new ArrayList<>();
        long nextId = 0;
        int exhaustedAllocations = 0;
        int exhaustedAppends = 0;
        int maxPrompt = 3 * tokensPerBlock + 5;

        for (int op = 0; op < OPERATIONS; op++) {
            int kind = rnd.nextInt(100);
            if (kind < 25 && live.size() >= MAX_LIVE_SEQUENCES) {
                kind = 95;                                             // a full batch: finish one instead
            }
            if (kind < 25 || live.isEmpty()) {                          // allocate
                long id = nextId++;
                // Mostly short prompts, now and then a long one (up to half the pool) that may not fit.
                int n = rnd.nextInt(10) == 0
                        ? rnd.nextInt(numBlocks * tokensPerBlock / 2 + 1)
                        : rnd.nextInt(maxPrompt + 1);
                if (m.canAllocate(n)) {
                    BlockTable t = m.allocate(id, n);
                    assertEquals(n, t.numTokens());
                    expectedTokens.put(id, n);
                    live.add(id);
                } else {
                    exhaustedAllocations++;
                    assertUnchangedAfterThrow(m, pool, () -> m.allocate(id, n));
                    assertFalse(m.contains(id));
                }
            } else if (kind < 80) {                                    // append
                long id = live.get(rnd.nextInt(live.size()));
                if (m.canAppend(id)) {
                    int before = m.numTokens(id);
                    int slot = m.append(id);
                    assertEquals(m.blockTable(id).slotOf(before), slot);
                    expectedTokens.merge(id, 1, Integer::sum);
                } else {
                    exhaustedAppends++;
                    assertEquals(0, pool.numFree());
                    assertUnchangedAfterThrow(m, pool, () -> m.append(id));
                    long newest = live.removeLast();                   // the scheduler's policy: preempt the newest
                    assertEquals(BlockTable.blocksNeeded(expectedTokens.remove(newest), tokensPerBlock), m.free(newest));
                }
            } else if (kind < 90) {                                    // truncate
                long id = live.get(rnd.nextInt(live.size()));
                int n = expectedTokens.get(id);
                int keep = rnd.nextInt(n + 1);
                int usedBefore = pool.numUsed();
                int freed = m.truncate(id, keep);
                assertEquals(BlockTable.blocksNeeded(n, tokensPerBlock) - BlockTable.blocksNeeded(keep, tokensPerBlock),
                        freed);
                assertEquals(usedBefore - freed, pool.numUsed());
                expectedTokens.put(id, keep);
            } else {                                                   // free (finish or preempt)
                long id = live.remove(rnd.nextInt(live.size()));
                int usedBefore = pool.numUsed();
                int freed = m.free(id);
                assertEquals(BlockTable.blocksNeeded(expectedTokens.remove(id), tokensPerBlock), freed);
                assertEquals(usedBefore - freed, pool.numUsed());
            }
            checkInvariants(m, pool, expectedTokens);
        }
        assertTrue(exhaustedAllocations > 0, "the run never exhausted the pool on allocate; tune the test");
        assertTrue(exhaustedAppends > 0, "the run never exhausted the pool on append; tune the test");

        for (long id : live) {
            m.free(id);
        }
        assertEquals(numBlocks, pool.numFree());
        assertEquals(0, pool.numUsed());
        assertEquals(0, m.numSequences());
        for (int b = 0; b < numBlocks; b++) {
            assertEquals(0, pool.refCount(b), "block " + b);
        }
    }

    private static void assertUnchangedAfterThrow(KvCacheManager m, BlockPool pool, Runnable op) {
        String before = KvCacheManagerTest.snapshot(m, pool);
        assertThrows(KvCacheExhaustedException.class, op::run);
        assertEquals(before, KvCacheManagerTest.snapshot(m, pool));
    }

    private static void checkInvariants(KvCacheManager m, BlockPool pool, Map<Long, Integer> expectedTokens) {
        int tpb = pool.tokensPerBlock();
        long[] slotOwner = new long[pool.numBlocks() * tpb];
        Arrays.fill(slotOwner, -1);
        long[] blockOwner = new long[pool.numBlocks()];
        Arrays.fill(blockOwner, -1);
        int blocksInTables = 0;

        assertEquals(expectedTokens.keySet(), m.seqIds());
        for (long id : m.seqIds()) {
            BlockTable t = m.blockTable(id);
            int n = expectedTokens.get(id);
            if (t.numTokens() != n || t.numBlocks() != BlockTable.blocksNeeded(n, tpb)) {
                fail("sequence " + id + " should hold " + n + " tokens in " + BlockTable.blocksNeeded(n, tpb)
                        + " blocks: " + t);
            }
            blocksInTables += t.numBlocks();
            for (int i = 0; i < t.numBlocks(); i++) {
                int b = t.blockId(i);
                if (blockOwner[b] != -1) {
                    fail("block " + b + " owned by sequences " + blockOwner[b] + " and " + id);
                }
                blockOwner[b] = id;
                if (!pool.isUsed(b) || pool.refCount(b) != 1) {
                    fail("block " + b + " of sequence " + id + " has reference count " + pool.refCount(b));
                }
            }
            int[] mapping = m.slotMapping(id, 0, n);
            for (int tok = 0; tok < n; tok++) {
                int slot = mapping[tok];
                if (slot != t.blockId(tok / tpb) * tpb + tok % tpb) {
                    fail("slot mapping of token " + tok + " of sequence " + id + " is " + slot + ", table says "
                            + t.slotOf(tok));
                }
                if (slotOwner[slot] != -1) {
                    fail("slot " + slot + " owned by sequences " + slotOwner[slot] + " and " + id);
                }
                slotOwner[slot] = id;
            }
            if (n > 0) {
                int from = n / 2;
                int[] part = m.slotMapping(id, from, n);
                assertArrayEquals(Arrays.copyOfRange(mapping, from, n), part);
            }
        }
        assertEquals(blocksInTables, pool.numUsed(), "blocks in use == blocks in tables");
        assertEquals(pool.numBlocks(), pool.numUsed() + pool.numFree(), "used + free == total");
        for (int b = 0; b < pool.numBlocks(); b++) {
            if ((blockOwner[b] != -1) != pool.isUsed(b)) {
                fail("block " + b + " is " + (pool.isUsed(b) ? "used" : "free") + " but owner is " + blockOwner[b]);
            }
        }
    }
}
