package io.rocketkv.core.model;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ModelConfig#ropeInvFreq()} against a plain double-precision reading of the formulas (transformers' own
 * float32 values: {@link RopeFrequenciesTest}).
 */
class RopeInvFreqTest {

    private static void assertClose(double expected, float actual, double relTol, String what) {
        assertTrue(Math.abs(actual - expected) <= relTol * Math.abs(expected),
                what + ": expected " + expected + ", got " + actual);
    }

    @Test
    void defaultRope() {
        ModelConfig c = ModelConfig.parse(ModelConfigTest.MISTRAL_7B_V01, null);
        float[] inv = c.ropeInvFreq();
        assertEquals(64, inv.length);
        for (int i = 0; i < 64; i++) {
            assertClose(Math.pow(10000.0, -2.0 * i / 128), inv[i], 1e-6, "inv_freq[" + i + "]");
        }
    }

    @Test
    void defaultRopeOddHeadDims() {
        // head_dim 80: 2i/80 is not exact in float32, as in transformers; 2e-6 covers base^(x·(1±2^-24)).
        ModelConfig c = ModelConfig.parse(ModelConfigTest.MISTRAL_7B_V01.replace("\"hidden_act\"",
                "\"head_dim\": 80, \"hidden_act\"").replace("\"rope_theta\": 10000.0", "\"rope_theta\": 1000000.0"),
                null);
        float[] inv = c.ropeInvFreq();
        for (int i = 0; i < inv.length; i++) {
            assertClose(Math.pow(1e6, -2.0 * i / 80), inv[i], 2e-6, "inv_freq[" + i + "]");
        }
    }

    @Test
    void llama3ScalingOfLlama31() {
        float[] inv = ModelConfig.parse(ModelConfigTest.LLAMA_31_8B, null).ropeInvFreq();
        double factor = 8, low = 1, high = 4, oldContext = 8192;
        int lowBand = 0;
        int midBand = 0;
        int highBand = 0;
        for (int i = 0; i < 64; i++) {
            double base = Math.pow(500000.0, -2.0 * i / 128);
            double wavelength = 2 * Math.PI / base;
            double expected;
            if (wavelength < oldContext / high) {          // high frequencies: kept
                expected = base;
                highBand++;
            } else if (wavelength > oldContext / low) {    // low frequencies: slowed down by the factor
                expected = base / factor;
                lowBand++;
            } else {                                       // in between: blend of the two
                double smooth = (oldContext / wavelength - low) / (high - low);
                expected = (1 - smooth) * base / factor + smooth * base;
                midBand++;
            }
            assertClose(expected, inv[i], 1e-6, "inv_freq[" + i + "]");
        }
        assertTrue(lowBand > 0 && midBand > 0 && highBand > 0, lowBand + "/" + midBand + "/" + highBand);
        assertEquals(1.0f, inv[0]);
    }

    @Test
    void llama3ScalingAtOtherParameters() {
        // Llama 3.2-style factor 32 and a small head; the reference is the same plain formula.
        String config = ModelConfigTest.LLAMA_31_8B.replace("\"factor\": 8.0", "\"factor\": 32.0")
                .replace("\"hidden_act\"", "\"head_dim\": 64, \"hidden_act\"");
        float[] inv = ModelConfig.parse(config, null).ropeInvFreq();
        assertEquals(32, inv.length);
        for (int i = 0; i < 32; i++) {
            double base = Math.pow(500000.0, -2.0 * i / 64);
            double wavelength = 2 * Math.PI / base;
            double expected = wavelength < 2048 ? base : wavelength > 8192 ? base / 32
                    : (1 - (8192 / wavelength - 1) / 3) * base / 32 + (8192 / wavelength - 1) / 3 * base;
            assertClose(expected, inv[i], 1e-6, "inv_freq[" + i + "]");
        }
    }
}
