package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class SamplingOptionsTest {

    private static String error(Runnable r) {
        return assertThrows(IllegalArgumentException.class, r::run).getMessage();
    }

    @Test
    void validValues() {
        SamplingOptions o = new SamplingOptions(0.7, 5, 0.9, 42L, 3);
        assertFalse(o.isGreedy());
        assertTrue(o.topKEnabled());
        assertTrue(o.topPEnabled());
        assertEquals(3, o.numTopLogprobs());
        assertTrue(SamplingOptions.GREEDY.isGreedy());
        assertFalse(new SamplingOptions(1, 0, 1.0, null, null).topKEnabled());
        assertFalse(SamplingOptions.defaults().topKEnabled());
        assertFalse(SamplingOptions.defaults().topPEnabled());
        assertEquals(0, SamplingOptions.defaults().numTopLogprobs());
        assertEquals(7L, SamplingOptions.defaults().withSeed(7L).seed());
        assertEquals(0, SamplingOptions.defaults().withLogprobs(0).numTopLogprobs());
    }

    @Test
    void invalidValuesNameFieldValueAndRange() {
        assertEquals("temperature must be >= 0 and finite (0 = greedy), got -0.1",
                error(() -> new SamplingOptions(-0.1, -1, 1, null, null)));
        assertEquals("temperature must be >= 0 and finite (0 = greedy), got NaN",
                error(() -> new SamplingOptions(Double.NaN, -1, 1, null, null)));
        assertEquals("temperature must be >= 0 and finite (0 = greedy), got Infinity",
                error(() -> new SamplingOptions(Double.POSITIVE_INFINITY, -1, 1, null, null)));
        assertEquals("topK must be 0 or -1 (disabled) or >= 1, got -2",
                error(() -> new SamplingOptions(1, -2, 1, null, null)));
        assertEquals("topP must be in (0, 1] (1 = disabled), got 0.0",
                error(() -> new SamplingOptions(1, -1, 0, null, null)));
        assertEquals("topP must be in (0, 1] (1 = disabled), got 1.01",
                error(() -> new SamplingOptions(1, -1, 1.01, null, null)));
        assertEquals("logprobs must be null or >= 0, got -1",
                error(() -> new SamplingOptions(1, -1, 1, null, -1)));
    }
}
