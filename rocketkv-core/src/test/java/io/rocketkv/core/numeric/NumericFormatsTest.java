package io.rocketkv.core.numeric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.EnumSet;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** {@link NumericFormats} dispatches to the format classes and rejects types a float cannot hold. */
class NumericFormatsTest {

    private static final EnumSet<DType> SUPPORTED =
            EnumSet.of(DType.F32, DType.F16, DType.BF16, DType.F8_E4M3, DType.F8_E5M2);

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F32", "F16", "BF16", "F8_E4M3", "F8_E5M2"})
    void bulkAndSingleElementAgreeWithFormatClass(DType type) {
        int count = 257;
        long offset = 3;
        SplittableRandom random = new SplittableRandom(type.ordinal());
        float[] src = BulkConversionTest.randomFloats(random, count);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(offset + (long) count * type.byteSize());
            NumericFormats.encode(type, src, 0, seg, offset, count);
            float[] decoded = new float[count + 1];
            NumericFormats.decode(type, seg, offset, decoded, 1, count);
            for (int i = 0; i < count; i++) {
                long at = offset + (long) i * type.byteSize();
                float expected = expectedRoundTrip(type, src[i]);
                assertEquals(Float.floatToIntBits(expected), Float.floatToIntBits(decoded[i + 1]), "element " + i);
                assertEquals(Float.floatToIntBits(expected),
                        Float.floatToIntBits(NumericFormats.decode(type, seg, at)), "element " + i);
            }
            if (type == DType.F32) {
                assertEquals(src[5], seg.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN),
                        offset + 20), "F32 is stored little-endian");
            }
        }
    }

    @Test
    void rejectsTypesThatAreNotFloats() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(64);
            float[] buf = new float[4];
            for (DType type : DType.values()) {
                assertEquals(SUPPORTED.contains(type), NumericFormats.isSupported(type), type.name());
                if (!SUPPORTED.contains(type)) {
                    IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                            () -> NumericFormats.decode(type, seg, 0));
                    assertTrue(e.getMessage().contains(type.name()), e.getMessage());
                    assertThrows(IllegalArgumentException.class, () -> NumericFormats.decode(type, seg, 0, buf, 0, 4));
                    assertThrows(IllegalArgumentException.class, () -> NumericFormats.encode(type, buf, 0, seg, 0, 4));
                }
            }
        }
        assertFalse(NumericFormats.isSupported(DType.F64));
    }

    private static float expectedRoundTrip(DType type, float f) {
        return switch (type) {
            case F32 -> f;
            case F16 -> Fp16.decode(Fp16.encode(f));
            case BF16 -> Bf16.decode(Bf16.encode(f));
            case F8_E4M3 -> Fp8E4M3.decode(Fp8E4M3.encode(f));
            case F8_E5M2 -> Fp8E5M2.decode(Fp8E5M2.encode(f));
            default -> throw new AssertionError(type);
        };
    }
}
