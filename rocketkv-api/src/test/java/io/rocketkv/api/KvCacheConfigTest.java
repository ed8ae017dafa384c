package io.rocketkv.api;

import static io.rocketkv.api.ConfigAssertions.assertConfigError;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class KvCacheConfigTest {

    @Test
    void defaultsFollowTensorRtLlm() {
        KvCacheConfig c = KvCacheConfig.defaults();
        assertTrue(c.enableBlockReuse());
        assertNull(c.maxTokens());
        assertEquals(0.9, c.freeGpuMemoryFraction());
    }

    @Test
    void builderAndToBuilder() {
        KvCacheConfig c = KvCacheConfig.builder().enableBlockReuse(false).maxTokens(4096)
                .freeGpuMemoryFraction(0.5).build();
        assertFalse(c.enableBlockReuse());
        assertEquals(4096, c.maxTokens());
        assertEquals(0.5, c.freeGpuMemoryFraction());
        assertEquals(c, c.toBuilder().build());
        assertEquals(c.hashCode(), c.toBuilder().build().hashCode());
        assertNull(c.toBuilder().maxTokens(null).build().maxTokens());
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1})
    void maxTokensMustBePositiveWhenSet(int bad) {
        assertConfigError("kv_cache_config.max_tokens", () -> KvCacheConfig.builder().maxTokens(bad).build(),
                "kv_cache_config.max_tokens (maxTokens)", ">= 1", "got " + bad);
    }

    @ParameterizedTest
    @ValueSource(doubles = {0.0, -0.1, 1.0000001, 2.0, Double.NaN, Double.POSITIVE_INFINITY})
    void freeGpuMemoryFractionMustBeInHalfOpenUnitInterval(double bad) {
        assertConfigError("kv_cache_config.free_gpu_memory_fraction",
                () -> KvCacheConfig.builder().freeGpuMemoryFraction(bad).build(),
                "kv_cache_config.free_gpu_memory_fraction (freeGpuMemoryFraction)", "0 < f <= 1", "got " + bad);
    }

    @Test
    void fractionOneIsAllowed() {
        assertEquals(1.0, KvCacheConfig.builder().freeGpuMemoryFraction(1.0).build().freeGpuMemoryFraction());
    }
}
