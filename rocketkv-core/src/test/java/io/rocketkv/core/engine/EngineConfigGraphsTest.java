package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class EngineConfigGraphsTest {

    @Test
    void defaultBucketsArePowersOfTwoThenTheMaximum() {
        assertEquals(List.of(1, 2, 4, 8, 16, 32, 64), EngineConfig.defaultGraphBatchSizes(64));
        assertEquals(List.of(1, 2, 4, 8, 16, 24), EngineConfig.defaultGraphBatchSizes(24));
        assertEquals(List.of(1), EngineConfig.defaultGraphBatchSizes(1));
        assertEquals(EngineConfig.defaultGraphBatchSizes(24), new EngineConfig(24, 64, 128, 16, 10).graphBatchSizes());
    }

    @Test
    void bucketIsTheSmallestRecordedSizeThatHoldsTheStep() {
        EngineConfig c = new EngineConfig(24, 64, 128, 16, 10);
        for (int s = 1; s <= 24; s++) {
            int b = c.graphBucket(s);
            assertTrue(b >= s && c.graphBatchSizes().contains(b), s + " -> " + b);
            for (int smaller : c.graphBatchSizes()) {
                assertTrue(smaller >= b || smaller < s, "no smaller bucket holds " + s);
            }
        }
        EngineConfig exact = c.withGraphs(List.of(2, 8), false);
        assertEquals(2, exact.graphBucket(2));
        assertEquals(-1, exact.graphBucket(3), "no padding: runs without a graph");
        assertEquals(-1, exact.graphBucket(9), "past the largest recorded size");
        assertEquals(-1, c.withGraphs(List.of(), true).graphBucket(1), "graphs off");
    }

    @Test
    void rejectsBadSizes() {
        EngineConfig c = new EngineConfig(8, 64, 128, 16, 10);
        assertThrows(IllegalArgumentException.class, () -> c.withGraphs(List.of(4, 2), true));
        assertThrows(IllegalArgumentException.class, () -> c.withGraphs(List.of(2, 2), true));
        assertThrows(IllegalArgumentException.class, () -> c.withGraphs(List.of(16), true));
        assertThrows(IllegalArgumentException.class, () -> c.withGraphs(List.of(0), true));
    }
}
