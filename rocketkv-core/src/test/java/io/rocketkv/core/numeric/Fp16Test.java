package io.rocketkv.core.numeric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link Fp16} against {@link Float#float16ToFloat} and the nearest-value reference. */
class Fp16Test extends MinifloatFormatContract {

    @Override
    int width() {
        return 16;
    }

    @Override
    int maxBits() {
        return 0x7BFF;
    }

    @Override
    int encode(float f) {
        return Fp16.encode(f) & 0xFFFF;
    }

    @Override
    float decode(int pattern) {
        return Fp16.decode((short) pattern);
    }

    @Override
    double referenceDecode(int pattern) {
        return Float.float16ToFloat((short) pattern);
    }

    @Test
    void constants() {
        assertEquals(65504f, Fp16.decode(Fp16.MAX_BITS));
        assertEquals(Fp16.MAX_VALUE, Fp16.decode(Fp16.MAX_BITS));
        assertTrue(Float.isNaN(Fp16.decode(Fp16.NAN_BITS)));
        assertEquals(Float.POSITIVE_INFINITY, Fp16.decode(Fp16.POSITIVE_INFINITY_BITS));
        assertEquals(0x1p-24f, Fp16.decode((short) 1), "smallest subnormal");
    }

    @Test
    void saturatesWhereFloatToFloat16OverflowsToInfinity() {
        assertEquals(0x7BFF, encode(65519.99f));
        assertEquals(0x7BFF, Float.floatToFloat16(65519.99f) & 0xFFFF);
        for (float f : new float[] {65520f, Math.nextUp(65520f), 65536f, 1e10f, Float.MAX_VALUE}) {
            assertEquals(0x7C00, Float.floatToFloat16(f) & 0xFFFF, "the JDK overflows " + f + " to infinity");
            assertEquals(0x7BFF, encode(f), "we saturate " + f);
            assertEquals(0xFBFF, encode(-f), "we saturate " + -f);
        }
    }

    @Test
    void infinitiesAndNaNs() {
        assertEquals(0x7C00, encode(Float.POSITIVE_INFINITY));
        assertEquals(0xFC00, encode(Float.NEGATIVE_INFINITY));
        assertEquals(0x7E00, encode(Float.NaN));
        assertEquals(0x7E00, encode(Float.intBitsToFloat(0x7F80_0001)), "signalling NaN becomes canonical quiet NaN");
        assertEquals(0x7E00, encode(Float.intBitsToFloat(0x7FFF_FFFF)));
        assertEquals(0xFE00, encode(Float.intBitsToFloat(0xFFC0_0000)), "NaN keeps its sign");
    }
}
