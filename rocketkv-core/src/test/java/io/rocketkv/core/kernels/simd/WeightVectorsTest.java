package io.rocketkv.core.kernels.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.Fp16;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.function.BiFunction;
import java.util.function.IntFunction;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** The in-register widening of bf16 and fp16 against the scalar decoders, for every one of the 65,536 patterns. */
class WeightVectorsTest {

    @Test
    void bf16WideningIsExact() {
        checkAllPatterns("bf16", WeightVectors::bf16, bits -> Bf16.decode((short) bits));
    }

    @Test
    void f16WideningIsExact() {
        checkAllPatterns("f16", WeightVectors::f16, bits -> Fp16.decode((short) bits));
    }

    private static void checkAllPatterns(String what, BiFunction<MemorySegment, Long, FloatVector> widen,
                                         IntFunction<Float> decode) {
        MemorySegment s = Arena.ofAuto().allocate(2 * 65536);
        for (int i = 0; i < 65536; i++) {
            s.setAtIndex(ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), i, (short) i);
        }
        float[] got = new float[WeightVectors.L];
        for (int i = 0; i < 65536; i += WeightVectors.L) {
            widen.apply(s, 2L * i).intoArray(got, 0);
            for (int l = 0; l < WeightVectors.L; l++) {
                float want = decode.apply(i + l);
                String at = what + " 0x" + Integer.toHexString(i + l);
                if (Float.isNaN(want)) {
                    assertTrue(Float.isNaN(got[l]), at);
                } else {
                    assertEquals(Float.floatToRawIntBits(want), Float.floatToRawIntBits(got[l]), at);
                }
            }
        }
    }
}
