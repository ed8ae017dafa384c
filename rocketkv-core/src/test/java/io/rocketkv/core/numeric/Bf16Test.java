package io.rocketkv.core.numeric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link Bf16} against the top half of float bits and the nearest-value reference. */
class Bf16Test extends MinifloatFormatContract {

    @Override
    int width() {
        return 16;
    }

    @Override
    int maxBits() {
        return 0x7F7F;
    }

    @Override
    int encode(float f) {
        return Bf16.encode(f) & 0xFFFF;
    }

    @Override
    float decode(int pattern) {
        return Bf16.decode((short) pattern);
    }

    @Override
    double referenceDecode(int pattern) {
        return Float.intBitsToFloat(pattern << 16);
    }

    @Test
    void constants() {
        assertEquals(Bf16.MAX_VALUE, Bf16.decode(Bf16.MAX_BITS));
        assertEquals(0x1.FEp127f, Bf16.MAX_VALUE);
        assertTrue(Float.isNaN(Bf16.decode(Bf16.NAN_BITS)));
        assertEquals(Float.POSITIVE_INFINITY, Bf16.decode(Bf16.POSITIVE_INFINITY_BITS));
        assertEquals(0x1p-133f, Bf16.decode((short) 1), "smallest subnormal");
    }

    @Test
    void largeFloatsSaturateInsteadOfRoundingToInfinity() {
        // 0x7F7F8000 is halfway between max (0x7F7F) and infinity; 0x7F7F8000 and above would round to 0x7F80.
        for (int bits : new int[] {0x7F7F_7FFF, 0x7F7F_8000, 0x7F7F_8001, 0x7F7F_FFFF}) {
            float f = Float.intBitsToFloat(bits);
            assertEquals(0x7F7F, encode(f), () -> "encode(0x%08x)".formatted(bits));
            assertEquals(0xFF7F, encode(-f), () -> "encode(-0x%08x)".formatted(bits));
        }
        assertEquals(0x7F7F, encode(Float.MAX_VALUE));
    }

    @Test
    void infinitiesAndNaNs() {
        assertEquals(0x7F80, encode(Float.POSITIVE_INFINITY));
        assertEquals(0xFF80, encode(Float.NEGATIVE_INFINITY));
        assertEquals(0x7FC0, encode(Float.NaN));
        // Truncating these NaNs would give the infinity pattern; rounding would carry into the sign.
        assertEquals(0x7FC0, encode(Float.intBitsToFloat(0x7F80_0001)));
        assertEquals(0x7FC0, encode(Float.intBitsToFloat(0x7FFF_FFFF)));
        assertEquals(0xFFC0, encode(Float.intBitsToFloat(0xFFFF_FFFF)));
    }
}
