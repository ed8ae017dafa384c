package io.rocketkv.core.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class KvCacheManagerTest {

    /** Everything observable about the manager and its pool, for "unchanged" checks. */
    static String snapshot(KvCacheManager m, BlockPool pool) {
        StringBuilder sb = new StringBuilder("free=" + pool.numFree() + " used=" + pool.numUsed() + " refs=");
        for (int b = 0; b < pool.numBlocks(); b++) {
            sb.append(pool.refCount(b)).append(',');
        }
        for (long id : m.seqIds()) {
            BlockTable t = m.blockTable(id);
            sb.append(" seq").append(id).append(':').append(t.numTokens()).append(Arrays.toString(t.blockIds()));
        }
        return sb.toString();
    }

    @Test
    void allocateAppendTruncateFree() {
        BlockPool pool = new BlockPool(8, 4);
        KvCacheManager m = new KvCacheManager(pool);
        assertTrue(m.canAllocate(32));
        assertFalse(m.canAllocate(33));

        BlockTable t = m.allocate(1, 6);   // blocks 0, 1
        assertArrayEquals(new int[] {0, 1}, t.blockIds());
        assertEquals(6, m.numTokens(1));
        assertArrayEquals(new int[] {0, 1, 2, 3, 4, 5}, m.slotMapping(1, 0, 6));

        assertTrue(m.canAppend(1));
        assertEquals(6, m.append(1));
        assertEquals(7, m.append(1));
        assertEquals(2, m.numUsedBlocks());
        m.allocate(2, 1);                  // block 2
        assertEquals(12, m.append(1));     // token 8 opens block 3
        assertEquals(4, m.numUsedBlocks());
        assertArrayEquals(new int[] {0, 1, 3}, t.blockIds());
        assertArrayEquals(new int[] {7, 12}, m.slotMapping(1, 7, 9));

        assertEquals(2, m.truncate(1, 3));
        assertArrayEquals(new int[] {0}, t.blockIds());
        assertEquals(3, t.numTokens());
        assertEquals(0, m.truncate(1, 3));
        assertEquals(3, m.append(1));      // slot 3 of block 0, no new block
        assertEquals(2, m.numUsedBlocks());

        assertEquals(1, m.free(1));
        assertEquals(1, m.free(2));
        assertEquals(8, m.numFreeBlocks());
        assertEquals(0, m.numSequences());
        assertThrows(IllegalStateException.class, () -> m.free(1));
    }

    @Test
    void truncateToZeroKeepsAnEmptyTableThatCanGrow() {
        KvCacheManager m = new KvCacheManager(2, 2);
        m.allocate(9, 3);
        assertEquals(2, m.truncate(9, 0));
        assertEquals(2, m.numFreeBlocks());
        assertEquals(0, m.blockTable(9).lastBlockLength());
        int slot = m.append(9);
        assertEquals(1, m.blockTable(9).numBlocks());
        assertEquals(m.blockTable(9).blockId(0) * 2, slot);
        assertEquals("newNumTokens must be in [0, 1] for sequence 9, got 2",
                assertThrows(IllegalArgumentException.class, () -> m.truncate(9, 2)).getMessage());
    }

    @Test
    void blockTableArrayIsPaddedWithMinusOne() {
        KvCacheManager m = new KvCacheManager(10, 2);
        m.allocate(5, 5);   // blocks 0 1 2
        m.allocate(6, 1);   // block 3
        m.allocate(7, 4);   // blocks 4 5
        assertArrayEquals(new int[] {3, -1, -1, -1, 0, 1, 2, -1, 4, 5, -1, -1},
                m.blockTableArray(new long[] {6, 5, 7}, 4));
        assertArrayEquals(new int[] {4, 5, -1, 3, -1, -1}, m.blockTableArray(new long[] {7, 6}, 3));
        assertArrayEquals(new int[] {4, 5, 3, -1}, m.blockTableArray(new long[] {7, 6}));
        assertEquals("padTo must be >= the longest block table (3 blocks for sequence 5), got 2",
                assertThrows(IllegalArgumentException.class, () -> m.blockTableArray(new long[] {5}, 2)).getMessage());
        assertEquals(0, m.blockTableArray(new long[0], 4).length);
    }

    @Test
    void slotMappingIntoABatchBuffer() {
        KvCacheManager m = new KvCacheManager(4, 3);
        m.allocate(1, 4);   // blocks 0 1
        m.allocate(2, 2);   // block 2
        int[] batch = new int[6];
        int n = m.slotMapping(1, 0, 4, batch, 0);
        m.slotMapping(2, 0, 2, batch, n);
        assertArrayEquals(new int[] {0, 1, 2, 3, 6, 7}, batch);
        assertEquals(0, m.slotMapping(1, 4, 4).length);
        assertEquals("token range must satisfy 0 <= fromToken <= toToken <= 4 for sequence 1, got [2, 5)",
                assertThrows(IndexOutOfBoundsException.class, () -> m.slotMapping(1, 2, 5)).getMessage());
    }

    @Test
    void allocateOnExhaustedPoolThrowsWithNumbersAndChangesNothing() {
        BlockPool pool = new BlockPool(4, 32);
        KvCacheManager m = new KvCacheManager(pool);
        m.allocate(1, 70);   // 3 blocks
        String before = snapshot(m, pool);
        assertFalse(m.canAllocate(33));
        KvCacheExhaustedException e = assertThrows(KvCacheExhaustedException.class, () -> m.allocate(2, 33));
        assertEquals("KV cache exhausted: sequence 2 (33 tokens) needs 2 blocks of 32 tokens but only 1 of 4 blocks"
                + " are free; raise kv_cache_config.max_tokens (or free_gpu_memory_fraction), or lower max_batch_size"
                + " or max_seq_len", e.getMessage());
        assertEquals(2, e.blocksNeeded());
        assertEquals(1, e.blocksFree());
        assertEquals(4, e.blocksTotal());
        assertEquals(before, snapshot(m, pool));
        assertFalse(m.contains(2));
        // The failed call did not disturb the free queue either: the next allocation gets the same block.
        assertEquals(3, m.allocate(2, 32).blockId(0));
    }

    @Test
    void appendOnExhaustedPoolThrowsWithNumbersAndChangesNothing() {
        BlockPool pool = new BlockPool(2, 2);
        KvCacheManager m = new KvCacheManager(pool);
        m.allocate(1, 2);
        m.allocate(2, 1);
        assertTrue(m.canAppend(2));
        m.append(2);
        String before = snapshot(m, pool);
        assertFalse(m.canAppend(1));
        assertFalse(m.canAppend(2));
        KvCacheExhaustedException e = assertThrows(KvCacheExhaustedException.class, () -> m.append(1));
        assertEquals("KV cache exhausted: appending token 2 to sequence 1 needs 1 block of 2 tokens but only 0 of 2"
                + " blocks are free; raise kv_cache_config.max_tokens (or free_gpu_memory_fraction), or lower"
                + " max_batch_size or max_seq_len", e.getMessage());
        assertEquals(before, snapshot(m, pool));
        // Preempt the newest sequence, as the scheduler would; now sequence 1 can grow.
        m.free(2);
        assertTrue(m.canAppend(1));
        int slot = m.append(1);
        assertEquals(3, m.numTokens(1));
        assertEquals(m.blockTable(1).slotOf(2), slot);
    }

    @Test
    void misuseIsReportedClearly() {
        KvCacheManager m = new KvCacheManager(4, 4);
        m.allocate(1, 1);
        assertEquals("sequence 1 already holds KV cache blocks; free it first",
                assertThrows(IllegalStateException.class, () -> m.allocate(1, 1)).getMessage());
        assertEquals("sequence 3 holds no KV cache blocks (not allocated, or freed)",
                assertThrows(IllegalStateException.class, () -> m.append(3)).getMessage());
        assertEquals("numTokens must be >= 0, got -1",
                assertThrows(IllegalArgumentException.class, () -> m.allocate(2, -1)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> m.canAllocate(-1));
        assertThrows(IllegalArgumentException.class, () -> new KvCacheManager(null));
    }

    @Test
    void bytesPerTokenOfLlama31_8B() {
        // 32 layers, 8 KV heads, head_dim 128, bf16: 2 * 32 * 8 * 128 * 2 = 131072 bytes.
        assertEquals(131_072L, KvCacheManager.bytesPerToken(32, 8, 128, 2));
    }
}
