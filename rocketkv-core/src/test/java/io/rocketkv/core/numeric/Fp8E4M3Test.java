package io.rocketkv.core.numeric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link Fp8E4M3} against the OCP spec formula, evaluated in double, and the nearest-value reference. */
class Fp8E4M3Test extends MinifloatFormatContract {

    @Override
    int width() {
        return 8;
    }

    @Override
    int maxBits() {
        return 0x7E;
    }

    @Override
    int encode(float f) {
        return Fp8E4M3.encode(f) & 0xFF;
    }

    @Override
    float decode(int pattern) {
        return Fp8E4M3.decode((byte) pattern);
    }

    /**
     * OCP 8-bit FP spec, E4M3: bias 7; normal (−1)^s·2^(e−7)·(1 + m/8); subnormal (e = 0) (−1)^s·2^(−6)·(m/8);
     * S.1111.111 is NaN; no infinities.
     */
    @Override
    double referenceDecode(int pattern) {
        int s = (pattern >> 7) & 1;
        int e = (pattern >> 3) & 0xF;
        int m = pattern & 0x7;
        if (e == 0xF && m == 0x7) {
            return Double.NaN;
        }
        double sign = s == 0 ? 1.0 : -1.0;
        return e == 0
                ? sign * Math.pow(2, -6) * (m / 8.0)
                : sign * Math.pow(2, e - 7) * (1 + m / 8.0);
    }

    @Test
    void constants() {
        assertEquals(448f, Fp8E4M3.decode(Fp8E4M3.MAX_BITS));
        assertEquals(Fp8E4M3.MAX_VALUE, Fp8E4M3.decode(Fp8E4M3.MAX_BITS));
        assertEquals(-448f, Fp8E4M3.decode((byte) 0xFE));
        assertEquals(0x1p-9f, Fp8E4M3.decode((byte) 1), "smallest subnormal");
        assertEquals(0x1p-6f, Fp8E4M3.decode((byte) 8), "smallest normal");
        assertEquals(256f, Fp8E4M3.decode((byte) 0x78), "S.1111.000 is finite");
    }

    @Test
    void onlyAllOnesIsNaN() {
        for (int p = 0; p < 256; p++) {
            boolean nan = (p & 0x7F) == 0x7F;
            assertEquals(nan, Float.isNaN(Fp8E4M3.decode((byte) p)), "pattern " + p);
            assertFalse(Float.isInfinite(Fp8E4M3.decode((byte) p)), "no infinities");
        }
    }

    @Test
    void saturatesBeyondMaxFinite() {
        // 480 would be the next value (its pattern is NaN); 464 is the halfway point.
        for (float f : new float[] {449f, 463.99f, 464f, 464.01f, 480f, 512f, 57344f, 1e10f, Float.MAX_VALUE}) {
            assertEquals(0x7E, encode(f), "encode(" + f + ")");
            assertEquals(0xFE, encode(-f), "encode(" + -f + ")");
        }
    }

    @Test
    void infinitiesBecomeNaNLikeNaN() {
        assertEquals(0x7F, encode(Float.POSITIVE_INFINITY));
        assertEquals(0xFF, encode(Float.NEGATIVE_INFINITY));
        assertEquals(0x7F, encode(Float.NaN));
        assertEquals(0x7F, encode(Float.intBitsToFloat(0x7F80_0001)));
        assertEquals(0xFF, encode(Float.intBitsToFloat(0xFFC0_0000)));
        assertTrue(Float.isNaN(Fp8E4M3.decode(Fp8E4M3.NAN_BITS)));
    }
}
