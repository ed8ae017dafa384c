package io.rocketkv.core.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BlockPoolTest {

    @Test
    void allocatesEveryBlockOnceThenIsExhausted() {
        BlockPool pool = new BlockPool(5, 4);
        Set<Integer> seen = new HashSet<>();
        for (int i = 0; i < 5; i++) {
            assertTrue(pool.canAllocate(5 - i));
            assertFalse(pool.canAllocate(6 - i));
            int b = pool.allocate();
            assertTrue(seen.add(b), "block " + b + " handed out twice");
            assertEquals(1, pool.refCount(b));
            assertTrue(pool.isUsed(b));
            assertEquals(i + 1, pool.numUsed());
            assertEquals(5, pool.numUsed() + pool.numFree());
        }
        KvCacheExhaustedException e = assertThrows(KvCacheExhaustedException.class, pool::allocate);
        assertEquals(1, e.blocksNeeded());
        assertEquals(0, e.blocksFree());
        assertEquals(5, e.blocksTotal());
        assertEquals(5, pool.numUsed());
    }

    @Test
    void freedBlocksReturnInFifoOrder() {
        BlockPool pool = new BlockPool(3, 2);
        int a = pool.allocate();
        int b = pool.allocate();
        assertEquals(0, pool.free(b));
        assertEquals(0, pool.free(a));
        // block 2 was never used, so it comes first, then b, then a.
        assertEquals(2, pool.allocate());
        assertEquals(b, pool.allocate());
        assertEquals(a, pool.allocate());
    }

    @Test
    void referenceCountsKeepSharedBlocksUsed() {
        BlockPool pool = new BlockPool(2);
        assertEquals(BlockPool.DEFAULT_TOKENS_PER_BLOCK, pool.tokensPerBlock());
        int b = pool.allocate();
        assertEquals(2, pool.retain(b));
        assertEquals(1, pool.free(b));
        assertTrue(pool.isUsed(b));
        assertEquals(1, pool.numFree());
        assertEquals(0, pool.free(b));
        assertFalse(pool.isUsed(b));
        assertEquals(2, pool.numFree());
    }

    @Test
    void doubleFreeAndBadIdsAreRejected() {
        BlockPool pool = new BlockPool(2, 8);
        int b = pool.allocate();
        pool.free(b);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.free(b));
        assertTrue(e.getMessage().contains("block " + b), e.getMessage());
        IllegalArgumentException r = assertThrows(IllegalArgumentException.class, () -> pool.free(2));
        assertEquals("blockId must be in [0, 2), got 2", r.getMessage());
        assertThrows(IllegalStateException.class, () -> pool.retain(0));
        assertThrows(IllegalArgumentException.class, () -> pool.canAllocate(-1));
        assertEquals(8, pool.firstSlot(1));
    }

    @Test
    void constructorValidates() {
        assertEquals("numBlocks must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> new BlockPool(0, 4)).getMessage());
        assertEquals("tokensPerBlock must be >= 1, got -3",
                assertThrows(IllegalArgumentException.class, () -> new BlockPool(4, -3)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> new BlockPool(1 << 20, 1 << 12));
    }
}
