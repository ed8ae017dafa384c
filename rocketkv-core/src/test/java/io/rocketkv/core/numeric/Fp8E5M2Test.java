package io.rocketkv.core.numeric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link Fp8E5M2} against binary16 (e5m2 is its top byte) and the nearest-value reference. */
class Fp8E5M2Test extends MinifloatFormatContract {

    @Override
    int width() {
        return 8;
    }

    @Override
    int maxBits() {
        return 0x7B;
    }

    @Override
    int encode(float f) {
        return Fp8E5M2.encode(f) & 0xFF;
    }

    @Override
    float decode(int pattern) {
        return Fp8E5M2.decode((byte) pattern);
    }

    @Override
    double referenceDecode(int pattern) {
        return Float.float16ToFloat((short) ((pattern & 0xFF) << 8));
    }

    @Test
    void constants() {
        assertEquals(57344f, Fp8E5M2.decode(Fp8E5M2.MAX_BITS));
        assertEquals(Fp8E5M2.MAX_VALUE, Fp8E5M2.decode(Fp8E5M2.MAX_BITS));
        assertTrue(Float.isNaN(Fp8E5M2.decode(Fp8E5M2.NAN_BITS)));
        assertEquals(Float.POSITIVE_INFINITY, Fp8E5M2.decode(Fp8E5M2.POSITIVE_INFINITY_BITS));
        assertEquals(Float.NEGATIVE_INFINITY, Fp8E5M2.decode((byte) 0xFC));
        assertEquals(0x1p-16f, Fp8E5M2.decode((byte) 1), "smallest subnormal");
        assertEquals(0x1p-14f, Fp8E5M2.decode((byte) 4), "smallest normal");
    }

    @Test
    void saturatesBeyondMaxFinite() {
        // 61440 would be the next value (it is infinity's pattern); 59392 is the halfway point.
        for (float f : new float[] {57345f, 59391f, 59392f, 59393f, 61440f, 65504f, 1e10f, Float.MAX_VALUE}) {
            assertEquals(0x7B, encode(f), "encode(" + f + ")");
            assertEquals(0xFB, encode(-f), "encode(" + -f + ")");
        }
    }

    @Test
    void doesNotDoubleRoundThroughBinary16() {
        // 1 + 2^-3 + 2^-12: binary16 rounds it down to 1.125, exactly halfway between the e5m2 values 1 and 1.25,
        // which would then tie to even 1.0; rounding once from float gives the nearer 1.25.
        float f = 1f + 0x1p-3f + 0x1p-12f;
        assertEquals(1.125f, Float.float16ToFloat(Float.floatToFloat16(f)));
        assertEquals(1.25f, Fp8E5M2.decode(Fp8E5M2.encode(f)));
    }

    @Test
    void infinitiesAndNaNs() {
        assertEquals(0x7C, encode(Float.POSITIVE_INFINITY));
        assertEquals(0xFC, encode(Float.NEGATIVE_INFINITY));
        assertEquals(0x7E, encode(Float.NaN));
        assertEquals(0x7E, encode(Float.intBitsToFloat(0x7F80_0001)));
        assertEquals(0xFE, encode(Float.intBitsToFloat(0xFFC0_0000)));
        for (int p : new int[] {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}) {
            assertTrue(Float.isNaN(Fp8E5M2.decode((byte) p)));
        }
    }
}
