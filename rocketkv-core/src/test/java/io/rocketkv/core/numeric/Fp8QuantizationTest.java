package io.rocketkv.core.numeric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** {@link Fp8Quantization}: the scale is max|x| / 448 (NaN skipped, 1 for all zeros), the codes e4m3(x / scale). */
class Fp8QuantizationTest {

    @Test
    void theLargestMagnitudeLandsOn448() {
        float[] x = {0.5f, -3f, 1.25f, Float.NaN, 0f, -0f};
        byte[] q = new byte[x.length];
        float scale = Fp8Quantization.perTensor(x, q);
        assertEquals(3f / 448f, scale);
        assertEquals(-448f, Fp8E4M3.decode(q[1]));
        for (int i = 0; i < x.length; i++) {
            assertEquals(Fp8E4M3.encode(x[i] / scale), q[i], "element " + i);
        }
        // 0.5 / (3 / 448) = 74.67 -> the nearest e4m3 value, 72 or 80 apart by 8: 72
        assertEquals(72f, Fp8E4M3.decode(q[0]));
    }

    @Test
    void allZerosTakeScaleOneAndAShortOutputIsRefused() {
        float[] z = new float[4];
        byte[] q = new byte[4];
        assertEquals(1f, Fp8Quantization.perTensor(z, q));
        assertEquals(0f, Fp8E4M3.decode(q[2]));
        assertThrows(IllegalArgumentException.class, () -> Fp8Quantization.perTensor(z, new byte[3]));
    }
}
