package io.rocketkv.core.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.rocketkv.core.numeric.DType;
import org.junit.jupiter.api.Test;

class KvCacheSizingTest {

    // Llama-3.1-8B: 32 layers, 8 KV heads, head_dim 128, bf16 cache, 32 tokens per block.
    private final KvCacheSizing llama8b = KvCacheSizing.of(32, 8, 128, DType.BF16, 32);

    @Test
    void bytesPerTokenAndBlock() {
        assertEquals(131_072L, llama8b.bytesPerToken());
        assertEquals(4_194_304L, llama8b.bytesPerBlock());
        assertEquals(4_194_304L * 10, llama8b.totalBytes(10));
        assertEquals(65_536L, KvCacheSizing.of(32, 8, 128, DType.F8_E4M3, 32).bytesPerToken());
    }

    @Test
    void maxTokensRoundsUpToWholeBlocks() {
        assertEquals(1, llama8b.blocksForMaxTokens(1));
        assertEquals(1, llama8b.blocksForMaxTokens(32));
        assertEquals(2, llama8b.blocksForMaxTokens(33));
        assertEquals(4096, llama8b.blocksForMaxTokens(131_072));
        assertEquals("kv_cache_config.max_tokens must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> llama8b.blocksForMaxTokens(0)).getMessage());
    }

    @Test
    void memoryBudgetRoundsDownToWholeBlocks() {
        long gib = 1L << 30;
        // 0.9 * 80 GiB = 72 GiB = 18432 blocks of 4 MiB.
        assertEquals(18_432, llama8b.blocksForMemory(80 * gib, 0.9));
        assertEquals(1, llama8b.blocksForMemory(llama8b.bytesPerBlock() * 4 - 2, 0.5));
        assertEquals(2, llama8b.blocksForMemory(llama8b.bytesPerBlock() * 2, 1.0));
        assertEquals(100, llama8b.blocksForMaxTokensWithin(3200, 80 * gib, 0.9));
        assertEquals(18_432, llama8b.blocksForMaxTokensWithin(1 << 30, 80 * gib, 0.9));
    }

    @Test
    void memoryBudgetIsCappedAtIntSlots() {
        KvCacheSizing tiny = new KvCacheSizing(1, 1, 1, 1, 32);
        assertEquals(Integer.MAX_VALUE / 32, tiny.blocksForMemory(Long.MAX_VALUE, 1.0));
    }

    @Test
    void invalidInputsNameTheFieldAndValue() {
        assertEquals("numLayers must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> new KvCacheSizing(0, 8, 128, 2, 32)).getMessage());
        assertEquals("numKvHeads must be >= 1, got -1",
                assertThrows(IllegalArgumentException.class, () -> new KvCacheSizing(1, -1, 128, 2, 32)).getMessage());
        assertEquals("headDim must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> new KvCacheSizing(1, 1, 0, 2, 32)).getMessage());
        assertEquals("bytesPerElement must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> new KvCacheSizing(1, 1, 1, 0, 32)).getMessage());
        assertEquals("tokensPerBlock must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> new KvCacheSizing(1, 1, 1, 2, 0)).getMessage());
        assertEquals("kv_cache_config.free_gpu_memory_fraction must be in (0, 1], got 1.5",
                assertThrows(IllegalArgumentException.class, () -> llama8b.blocksForMemory(1L << 30, 1.5))
                        .getMessage());
        assertThrows(IllegalArgumentException.class, () -> llama8b.blocksForMemory(1L << 30, 0.0));
        assertThrows(IllegalArgumentException.class, () -> llama8b.blocksForMemory(1L << 30, Double.NaN));
        assertEquals("budgetBytes must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> llama8b.blocksForMemory(0, 0.5)).getMessage());
        assertEquals("KV cache budget of 1048576 bytes (0.5 of 2097152) holds no block of 4194304 bytes (32 tokens"
                + " of 131072 bytes); raise kv_cache_config.free_gpu_memory_fraction or free memory",
                assertThrows(IllegalArgumentException.class, () -> llama8b.blocksForMemory(2L << 20, 0.5))
                        .getMessage());
        assertThrows(IllegalArgumentException.class, () -> KvCacheSizing.of(1, 1, 1, null, 32));
    }
}
