package io.rocketkv.benchmarks.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class AttentionCostTest {

    private static final AttentionCost C = AttentionCost.LLAMA_8B;

    @Test
    void denseDecodeBytesMatchTheH200Table() {
        // 2 (K, V) · 8 heads · 128 · 2 B · 32768 tokens · 8 sequences = 1 GiB
        assertEquals(1L << 30, C.denseDecodeBytes(32768, 8));
        // cuda-h200.txt: 32k × batch 8 in 278.6 µs reads at 3854 GB/s
        assertEquals(3854, C.denseDecodeBytes(32768, 8) / 278.6e-6 / 1e9, 1.0);
        assertEquals(C.denseDecodeBytes(4096, 1) * 64, C.denseDecodeBytes(4096, 64));
    }

    @Test
    void rocketDecodeBytesMatchTheH200Table() {
        // 2113 cached tokens in 4-token pages = 529 pages; cuda-h200.txt prints 2.17 MB at batch 1
        double one = C.rocketDecodeBytes(1, 529, 64, 4);
        assertEquals(8 * (529 * 2.0 * 128 + 64 * 4 * 2 * 128 * 2) + (32 * 128 * 8 + 8 * 128 * 4), one);
        assertEquals(2.17e6, one, 0.005e6);
        assertEquals(69.40e6, C.rocketDecodeBytes(32, 529, 64, 4), 0.005e6);
    }

    @Test
    void prefillFlopsAreHalfOfFullAttention() {
        // 4·H·D·L² / 2 = 2 · 32 · 128 · 32768²
        assertEquals(2.0 * 32 * 128 * 32768.0 * 32768.0, C.prefillFlops(32768));
        assertEquals(4 * C.prefillFlops(4096), C.prefillFlops(8192));
        assertEquals(2.0 * 8192 * 8192 * 8192, AttentionCost.gemmFlops(8192, 8192, 8192));
    }

    @Test
    void memoryFitRuleAllowsEightyPercentOfFree() {
        assertTrue(AttentionCost.fits(80, 100));
        assertFalse(AttentionCost.fits(81, 100));
        assertFalse(AttentionCost.fits(-1, 100));
        assertTrue(AttentionCost.fits(0, 0));
    }

    @Test
    void footprintsCountTheCache() {
        // 4096 tokens = 128 blocks of [2, 8, 32, 128] bf16 = 128 KiB each
        assertEquals(128L * 131072, C.cacheBytes(C.blocksFor(4096)));
        assertEquals(C.blocksFor(4097), C.blocksFor(4096) + 1);
        assertEquals(128L * 131072 + 2L * 32 * 128 * 4, C.denseDecodeFootprint(4096, 1));
        // 128k × batch 64 dense: 32 GiB of cache
        assertEquals(32.0, C.denseDecodeFootprint(131072, 64) / (double) (1L << 30), 0.01);
        assertTrue(C.prefillFootprint(131072) > C.cacheBytes(4096));
    }

    @Test
    void rejectsShapesThatAreNotGqa() {
        assertThrows(IllegalArgumentException.class, () -> new AttentionCost(32, 6, 128, 32));
        assertThrows(IllegalArgumentException.class, () -> new AttentionCost(32, 8, 0, 32));
    }
}
