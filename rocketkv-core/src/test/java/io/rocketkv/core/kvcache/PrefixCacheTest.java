package io.rocketkv.core.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** KvCacheManager with block reuse: prefix hits, the last-token rule, pending keys, copy-on-evict adoption. */
class PrefixCacheTest {

    private static int[] tokens(long seed, int n) {
        return new SplittableRandom(seed).ints(n, 0, 1000).toArray();
    }

    @Test
    void aSecondSequenceSharesTheFirstOnesFullComputedBlocks() {
        KvCacheManager m = new KvCacheManager(16, 4, true);
        int[] a = tokens(1, 10); // blocks [0,4) [4,8) full, [8,10) partial
        m.allocate(1, 10, m.findCachedPrefix(a, 9), 0);
        assertEquals(2, m.markComputed(1, a, 10));
        m.commitStep();
        int[] b = a.clone();
        b[9] = 999; // same first 9 tokens, other last token
        PrefixHit hit = m.findCachedPrefix(b, b.length - 1);
        assertEquals(2, hit.numBlocks());
        assertArrayEquals(new int[] {m.blockTable(1).blockId(0), m.blockTable(1).blockId(1)}, hit.blocks());
        m.allocate(2, 10, hit, 0);
        assertEquals(m.blockTable(1).blockId(1), m.blockTable(2).blockId(1));
        assertEquals(2, m.blockTable(1).numBlocks() + m.blockTable(2).numBlocks() - m.numUsedBlocks(),
                "two blocks are in both tables");
        assertEquals(4, m.numUsedBlocks(), "two shared blocks and one own block each");
        assertEquals(new PrefixCacheStats(2, 20, 8, 2, 0), m.stats());
        assertEquals(0.4, m.stats().hitRate(), 1e-12);
        m.free(1);
        m.free(2);
        assertEquals(0, m.numUsedBlocks());
        assertEquals(2, m.numCachedFreeBlocks(), "the shared blocks stay cached, free");
    }

    @Test
    void theLastTokenIsNeverServedFromTheCacheSoABlockAlignedPromptRecomputesItsLastBlock() {
        KvCacheManager m = new KvCacheManager(16, 4, true);
        int[] p = tokens(2, 8);
        m.allocate(1, 8, PrefixHit.NONE, 0);
        m.markComputed(1, p, 8);
        m.commitStep();
        m.free(1);
        assertEquals(2, m.findCachedPrefix(p, 8).numBlocks(), "both blocks are cached");
        assertEquals(1, m.findCachedPrefix(p, p.length - 1).numBlocks(), "at most 7 of 8 tokens: one block");
        assertSame(PrefixHit.NONE, m.findCachedPrefix(p, 3));
    }

    @Test
    void keysOfAFailedStepAreDroppedAndAReuseOffManagerKeysNothing() {
        KvCacheManager m = new KvCacheManager(16, 4, true);
        int[] p = tokens(3, 12);
        m.allocate(1, 12, PrefixHit.NONE, 0);
        assertEquals(3, m.markComputed(1, p, 12));
        m.abortStep();
        m.free(1);
        assertEquals(0, m.findCachedPrefix(p, 11).numBlocks());
        assertEquals(0, m.numCachedFreeBlocks());

        KvCacheManager off = new KvCacheManager(16, 4, false);
        off.allocate(1, 12, PrefixHit.NONE, 0);
        assertEquals(0, off.markComputed(1, p, 12));
        assertSame(PrefixHit.NONE, off.findCachedPrefix(p, 11));
    }

    @Test
    void cachedFreeBlocksCountAsFreeAndAreEvictedForANewRequest() {
        KvCacheManager m = new KvCacheManager(4, 4, true);
        int[] p = tokens(4, 16);
        m.allocate(1, 16, PrefixHit.NONE, 0);
        m.markComputed(1, p, 16);
        m.commitStep();
        m.free(1);
        assertEquals(4, m.numCachedFreeBlocks());
        int[] other = tokens(5, 16);
        PrefixHit none = m.findCachedPrefix(other, 15);
        assertTrue(m.canAllocate(16, none, 0), "the cache gives way to a request that needs the whole pool");
        m.allocate(2, 16, none, 0);
        assertEquals(0, m.numCachedFreeBlocks());
        assertEquals(4, m.stats().evictions());
    }

    @Test
    void aHitOnFreeCachedBlocksUsesThemUpInTheAdmissionCheck() {
        KvCacheManager m = new KvCacheManager(4, 4, true);
        int[] p = tokens(6, 13);
        m.allocate(1, 13, PrefixHit.NONE, 0);
        m.markComputed(1, p, 13);
        m.commitStep();
        m.free(1); // 3 cached free blocks + 1 uncached free
        PrefixHit hit = m.findCachedPrefix(p, 12);
        assertEquals(3, hit.numBlocks());
        assertEquals(3, hit.freeBlocks());
        assertTrue(m.canAllocate(13, hit, 0));
        assertFalse(m.canAllocate(13, hit, 1), "the hit blocks are not free for the reserve");
        assertThrows(KvCacheExhaustedException.class, () -> m.allocate(2, 13, hit, 1));
        m.allocate(2, 13, hit, 0);
        assertEquals(4, m.numUsedBlocks());
    }

    @Test
    void adoptCompactedSwapsInTheReservedBlocksAndReleasesThePromptsBlocksCached() {
        KvCacheManager m = new KvCacheManager(16, 4, true);
        int[] p = tokens(7, 14);
        m.allocate(1, 14, PrefixHit.NONE, 3); // compact into 2 of 3 reserved blocks (budget 6)
        int[] reserved = m.reservedBlocks(1);
        assertEquals(3, reserved.length);
        assertEquals(7, m.numUsedBlocks());
        m.markComputed(1, p, 14);
        m.commitStep();
        assertEquals(4, m.adoptCompacted(1, 6));
        assertArrayEquals(new int[] {reserved[0], reserved[1]}, m.blockTable(1).blockIds());
        assertEquals(6, m.numTokens(1));
        assertNull(m.reservedBlocks(1));
        assertEquals(2, m.numUsedBlocks());
        assertEquals(3, m.numCachedFreeBlocks(), "the prompt's three full blocks stay cached");
        assertEquals(0, m.markComputed(1, p, 6), "a compacted table is never keyed");
        assertEquals(3, m.findCachedPrefix(p, 13).numBlocks());
        assertThrows(IllegalStateException.class, () -> m.adoptCompacted(1, 6));
        m.free(1);
        assertEquals(0, m.numUsedBlocks());
    }

    @Test
    void freeReleasesTheReserveTooAndAStaleHitIsRefused() {
        KvCacheManager m = new KvCacheManager(4, 4, true);
        int[] p = tokens(8, 9);
        m.allocate(1, 9, PrefixHit.NONE, 1);
        m.markComputed(1, p, 9);
        m.commitStep();
        assertEquals(4, m.numUsedBlocks());
        m.free(1);
        assertEquals(0, m.numUsedBlocks());
        PrefixHit hit = m.findCachedPrefix(p, 8);
        assertEquals(2, hit.numBlocks());
        m.allocate(2, 16, PrefixHit.NONE, 0); // evicts both cached blocks
        m.free(2);
        assertThrows(IllegalStateException.class, () -> m.allocate(3, 9, hit, 0));
        assertFalse(m.contains(3));
    }
}
