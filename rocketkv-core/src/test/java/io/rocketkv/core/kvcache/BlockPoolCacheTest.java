package io.rocketkv.core.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The pool's prefix-cache side: keyed blocks survive their last reference, and are evicted last and oldest first. */
class BlockPoolCacheTest {

    private static BlockHash key(int... tokens) {
        return BlockHash.of(BlockHash.ROOT, tokens, 0, tokens.length);
    }

    @Test
    void keysChainParentAndTokens() {
        int[] t = {1, 2, 3, 4, 5, 6, 7, 8};
        BlockHash a = BlockHash.of(BlockHash.ROOT, t, 0, 4);
        assertEquals(a, BlockHash.of(BlockHash.ROOT, new int[] {1, 2, 3, 4}, 0, 4));
        assertNotEquals(a, BlockHash.of(BlockHash.ROOT, new int[] {1, 2, 3, 5}, 0, 4));
        BlockHash b = BlockHash.of(a, t, 4, 8);
        assertNotEquals(b, BlockHash.of(BlockHash.ROOT, t, 4, 8), "the same tokens after another parent");
        // token ids are encoded whole: 256 and 1 differ from 1 and 0 byte-shifted
        assertNotEquals(key(256, 0), key(1, 0));
        assertThrows(IndexOutOfBoundsException.class, () -> BlockHash.of(BlockHash.ROOT, t, 4, 9));
    }

    @Test
    void aFreedCachedBlockStaysFreeAndFindableUntilRetained() {
        BlockPool pool = new BlockPool(4, 2);
        int b = pool.allocate();
        assertTrue(pool.cache(b, key(1, 2)));
        assertEquals(0, pool.free(b));
        assertFalse(pool.isUsed(b));
        assertEquals(4, pool.numFree(), "a cached free block counts as free");
        assertEquals(1, pool.numCachedFree());
        assertEquals(b, pool.lookup(key(1, 2)));
        assertEquals(1, pool.retain(b));
        assertTrue(pool.isUsed(b));
        assertEquals(0, pool.numCachedFree());
        assertEquals(3, pool.numFree());
        assertEquals(2, pool.retain(b));
    }

    @Test
    void allocateTakesUncachedBlocksFirstThenEvictsTheLeastRecentlyFreed() {
        BlockPool pool = new BlockPool(3, 2);
        int a = pool.allocate();
        int b = pool.allocate();
        int c = pool.allocate();
        pool.cache(a, key(1));
        pool.cache(b, key(2));
        pool.free(b); // b is freed before a: evicted first
        pool.free(a);
        pool.free(c); // no key: goes to the free queue, handed out before any cached block
        assertEquals(c, pool.allocate());
        assertEquals(0, pool.evictions());
        assertEquals(b, pool.allocate());
        assertEquals(1, pool.evictions());
        assertEquals(-1, pool.lookup(key(2)), "an evicted block loses its key");
        assertNull(pool.keyOf(b));
        assertEquals(a, pool.lookup(key(1)));
        assertEquals(a, pool.allocate());
        assertThrows(KvCacheExhaustedException.class, pool::allocate);
    }

    @Test
    void aDuplicateKeyStaysWithTheFirstBlockAndUncacheFreesTheBlock() {
        BlockPool pool = new BlockPool(3, 2);
        int a = pool.allocate();
        int b = pool.allocate();
        assertTrue(pool.cache(a, key(5)));
        assertFalse(pool.cache(b, key(5)), "the same prefix computed twice: the first block keeps the key");
        assertNull(pool.keyOf(b));
        assertThrows(IllegalStateException.class, () -> pool.cache(a, key(6)));
        pool.free(a);
        assertEquals(1, pool.numCachedFree());
        pool.uncache(a);
        assertEquals(0, pool.numCachedFree());
        assertEquals(0, pool.numCached());
        assertEquals(-1, pool.lookup(key(5)));
        assertThrows(IllegalStateException.class, () -> pool.retain(a), "an uncached free block has nothing to give");
        assertThrows(IllegalStateException.class, () -> pool.cache(a, key(7)), "a free block cannot be keyed");
    }
}
