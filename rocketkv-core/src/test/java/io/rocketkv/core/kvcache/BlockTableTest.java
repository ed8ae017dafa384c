package io.rocketkv.core.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BlockTableTest {

    @Test
    void blocksNeededRoundsUp() {
        assertEquals(0, BlockTable.blocksNeeded(0, 32));
        assertEquals(1, BlockTable.blocksNeeded(1, 32));
        assertEquals(1, BlockTable.blocksNeeded(32, 32));
        assertEquals(2, BlockTable.blocksNeeded(33, 32));
        assertEquals(97, BlockTable.blocksNeeded(97, 1));
        assertEquals(67_108_864, BlockTable.blocksNeeded(Integer.MAX_VALUE, 32));
        assertThrows(IllegalArgumentException.class, () -> BlockTable.blocksNeeded(-1, 32));
        assertThrows(IllegalArgumentException.class, () -> BlockTable.blocksNeeded(1, 0));
    }

    @Test
    void slotOfIsBlockTimesSizePlusOffset() {
        BlockTable t = new BlockTable(4);
        t.addBlock(7);
        t.addBlock(2);
        t.addBlock(5);
        t.setNumTokens(10);
        int[] expected = {28, 29, 30, 31, 8, 9, 10, 11, 20, 21};
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], t.slotOf(i), "token " + i);
        }
        assertArrayEquals(new int[] {7, 2, 5}, t.blockIds());
        assertEquals(2, t.lastBlockLength());
        assertFalse(t.nextTokenNeedsBlock());
        int[] slots = new int[9];
        t.copySlots(1, 10, slots, 0);
        assertArrayEquals(new int[] {29, 30, 31, 8, 9, 10, 11, 20, 21}, slots);
        t.copySlots(4, 6, slots, 7);
        assertArrayEquals(new int[] {8, 9}, java.util.Arrays.copyOfRange(slots, 7, 9));
        assertEquals("tokenIndex must be in [0, 10), got 10",
                assertThrows(IndexOutOfBoundsException.class, () -> t.slotOf(10)).getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> t.slotOf(-1));
        assertThrows(IllegalStateException.class, () -> t.setNumTokens(13));
        t.setNumTokens(12);
        assertEquals(4, t.lastBlockLength());
        assertTrue(t.nextTokenNeedsBlock());
    }

    @Test
    void growsPastInitialCapacity() {
        BlockTable t = new BlockTable(1);
        for (int i = 0; i < 100; i++) {
            t.addBlock(99 - i);
        }
        t.setNumTokens(100);
        assertEquals(100, t.numBlocks());
        assertEquals(0, t.slotOf(99));
        assertEquals(0, t.removeLastBlock());
        assertEquals(99, t.numBlocks());
    }
}
