package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SamplingOptionsTest {

    private static String error(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    private static SamplingOptions.Builder b() {
        return SamplingOptions.builder();
    }

    @Test
    void validValues() {
        SamplingOptions o = b().temperature(0.7).topK(5).topP(0.9).seed(42L).logprobs(3).build();
        assertEquals(0.7, o.temperature());
        assertEquals(5, o.topK());
        assertEquals(0.9, o.topP());
        assertEquals(42L, o.seed());
        assertFalse(o.isGreedy());
        assertTrue(o.topKEnabled());
        assertTrue(o.topPEnabled());
        assertEquals(3, o.numTopLogprobs());
        assertEquals(o, o.toBuilder().build());
        assertTrue(SamplingOptions.GREEDY.isGreedy());
        assertFalse(b().temperature(1).topK(0).build().topKEnabled());
        assertFalse(SamplingOptions.defaults().topKEnabled());
        assertFalse(SamplingOptions.defaults().topPEnabled());
        assertEquals(0, SamplingOptions.defaults().numTopLogprobs());
        assertEquals(7L, SamplingOptions.defaults().withSeed(7L).seed());
        assertEquals(0, SamplingOptions.defaults().withLogprobs(0).numTopLogprobs());
    }

    @Test
    void defaultsAreVllms() {
        SamplingOptions d = SamplingOptions.defaults();
        assertEquals(1.0, d.temperature());
        assertEquals(0, d.topK());
        assertEquals(1.0, d.topP());
        assertNull(d.seed());
        assertNull(d.logprobs());
        assertEquals(d.toBuilder().temperature(0).build(), SamplingOptions.GREEDY);
    }

    @Test
    void invalidValuesNameFieldValueAndRange() {
        assertEquals("temperature must be >= 0 and finite (0 = greedy), got -0.1",
                error(() -> b().temperature(-0.1).build()));
        assertEquals("temperature must be >= 0 and finite (0 = greedy), got NaN",
                error(() -> b().temperature(Double.NaN).build()));
        assertEquals("temperature must be >= 0 and finite (0 = greedy), got Infinity",
                error(() -> b().temperature(Double.POSITIVE_INFINITY).build()));
        assertEquals("topK must be 0 (disabled) or >= 1, got -2", error(() -> b().topK(-2).build()));
        assertEquals("topP must be in (0, 1] (1 = disabled), got 0.0", error(() -> b().topP(0).build()));
        assertEquals("topP must be in (0, 1] (1 = disabled), got 1.01", error(() -> b().topP(1.01).build()));
        assertEquals("logprobs must be null or >= 0, got -1", error(() -> b().logprobs(-1).build()));
    }

    @Test
    void zeroIsTheOnlyWayToDisableTopK() {
        // -1 (vLLM's spelling) is mapped to 0 where it is accepted (the HTTP server); the engine refuses it
        assertEquals("topK must be 0 (disabled) or >= 1, got -1", error(() -> b().topK(-1).build()));
        assertEquals(SamplingOptions.TOP_K_DISABLED, SamplingOptions.defaults().topK());
    }
}
