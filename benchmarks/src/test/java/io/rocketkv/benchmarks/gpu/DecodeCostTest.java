package io.rocketkv.benchmarks.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class DecodeCostTest {

    private static final long WEIGHTS = 15_000_000_000L;
    private static final DecodeCost LLAMA = new DecodeCost(32, 4096, AttentionCost.LLAMA_8B, WEIGHTS, 2);

    @Test
    void kvBytesPerTokenIsKAndVOfEveryLayer() {
        assertEquals(2L * 32 * 8 * 128 * 2, LLAMA.kvBytesPerToken()); // 128 KiB
    }

    @Test
    void denseStepReadsWeightsEmbeddingRowsAndEveryCachedToken() {
        assertEquals(WEIGHTS + 4096 * 2 + 8192.0 * 131072, LLAMA.denseStepBytes(8192, 1));
        assertEquals(WEIGHTS + 4.0 * 4096 * 2 + 4.0 * 100 * 131072, LLAMA.denseStepBytes(100, 4));
    }

    @Test
    void rocketStepReadsThePerLayerSelectionOfEveryLayer() {
        double perLayer = AttentionCost.LLAMA_8B.rocketDecodeBytes(2, 528, 64, 4);
        assertEquals(WEIGHTS + 2.0 * 4096 * 2 + 32 * perLayer, LLAMA.rocketStepBytes(2112, 2, 64, 4));
    }

    @Test
    void floorIsBytesOverCopyBandwidth() {
        assertEquals(2.0, DecodeCost.floorSeconds(8e12, 4000), 1e-12);
        assertThrows(IllegalArgumentException.class, () -> DecodeCost.floorSeconds(1, 0));
    }

    @Test
    void poolIsTheFractionOfWhatTheWorkspaceLeaves() {
        assertEquals(900, DecodeCost.poolTokens(1100, 100, 0.9, 1));
        assertEquals(0, DecodeCost.poolTokens(100, 200, 0.9, 1));
        assertThrows(IllegalArgumentException.class, () -> DecodeCost.poolTokens(1, 0, 0.9, 0));
    }

    @Test
    void denseSequencesAreWholeBlockRoundedSequences() {
        assertEquals(3, LLAMA.maxDenseSequences(32 * 100, 33 * 32)); // 100 blocks / 33
        assertEquals(3, LLAMA.maxDenseSequences(32 * 100, 32 * 32 + 1)); // 33 blocks each
        assertEquals(0, LLAMA.maxDenseSequences(32 * 10, 32 * 11));
    }

    @Test
    void rocketSequencesHoldOnePromptAtFullLengthAndTheRestAtTheBudget() {
        // pool 1000 blocks; a 16k prompt is 512 blocks; kept 2048 + 64 new = 66 blocks each
        assertEquals(1 + (1000 - 512) / 66, LLAMA.maxRocketSequences(32_000, 16384, 2048, 64));
        assertEquals(0, LLAMA.maxRocketSequences(32 * 100, 16384, 2048, 64));
    }
}
