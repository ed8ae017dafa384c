package io.rocketkv.core.kernels.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.Fp16;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** The in-register widening of bf16 and fp16 against the scalar decoders, for every one of the 65,536 patterns. */
class WeightVectorsTest {

    private static MemorySegment allPatterns() {
        MemorySegment s = Arena.ofAuto().allocate(2 * 65536);
        for (int i = 0; i < 65536; i++) {
            s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, (short) i);
        }
        return s;
    }

    @Test
    void bf16WideningIsExact() {
        MemorySegment s = allPatterns();
        float[] got = new float[WeightVectors.L];
        for (int i = 0; i < 65536; i += WeightVectors.L) {
            WeightVectors.bf16(s, 2L * i).intoArray(got, 0);
            for (int l = 0; l < WeightVectors.L; l++) {
                assertEquals(Float.floatToRawIntBits(Bf16.decode((short) (i + l))), Float.floatToRawIntBits(got[l]),
                        "bf16 0x" + Integer.toHexString(i + l));
            }
        }
    }

    @Test
    void f16WideningIsExact() {
        MemorySegment s = allPatterns();
        float[] got = new float[WeightVectors.L];
        for (int i = 0; i < 65536; i += WeightVectors.L) {
            WeightVectors.f16(s, 2L * i).intoArray(got, 0);
            for (int l = 0; l < WeightVectors.L; l++) {
                float want = Fp16.decode((short) (i + l));
                String what = "f16 0x" + Integer.toHexString(i + l);
                if (Float.isNaN(want)) {
                    assertEquals(true, Float.isNaN(got[l]), what);
                } else {
                    assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[l]), what);
                }
            }
        }
    }
}
