package io.rocketkv.core.numeric;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Bulk conversions against the scalar ones. Segments are filled and read byte by byte in little-endian order, at
 * odd offsets, so the test does not share the layouts of the code under test.
 */
class BulkConversionTest {

    private static final int SRC_OFF = 3;
    private static final int DST_OFF = 5;
    private static final long SEG_OFF = 7;

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 17, 97, 1000, 4099})
    void sixteenBitFormats(int count) {
        SplittableRandom random = new SplittableRandom(count);
        short[] bits = new short[SRC_OFF + count];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (short) random.nextInt();
        }
        float[] floats = randomFloats(random, SRC_OFF + count);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(SEG_OFF + 2L * count + 3);

            // decode: segment -> float[], short[] -> float[]
            writeLe16(seg, bits);
            float[] fromSeg = new float[DST_OFF + count];
            float[] fromArr = new float[DST_OFF + count];
            Fp16.decode(seg, SEG_OFF, fromSeg, DST_OFF, count);
            Fp16.decode(bits, SRC_OFF, fromArr, DST_OFF, count);
            for (int i = 0; i < count; i++) {
                assertSameFloat(Fp16.decode(bits[SRC_OFF + i]), fromSeg[DST_OFF + i]);
                assertSameFloat(Fp16.decode(bits[SRC_OFF + i]), fromArr[DST_OFF + i]);
            }
            Bf16.decode(seg, SEG_OFF, fromSeg, DST_OFF, count);
            Bf16.decode(bits, SRC_OFF, fromArr, DST_OFF, count);
            for (int i = 0; i < count; i++) {
                assertSameFloat(Bf16.decode(bits[SRC_OFF + i]), fromSeg[DST_OFF + i]);
                assertSameFloat(Bf16.decode(bits[SRC_OFF + i]), fromArr[DST_OFF + i]);
            }

            // encode: float[] -> segment, float[] -> short[]
            short[] toArr = new short[DST_OFF + count];
            Fp16.encode(floats, SRC_OFF, seg, SEG_OFF, count);
            Fp16.encode(floats, SRC_OFF, toArr, DST_OFF, count);
            for (int i = 0; i < count; i++) {
                assertEquals(Fp16.encode(floats[SRC_OFF + i]), readLe16(seg, SEG_OFF + 2L * i));
                assertEquals(Fp16.encode(floats[SRC_OFF + i]), toArr[DST_OFF + i]);
            }
            Bf16.encode(floats, SRC_OFF, seg, SEG_OFF, count);
            Bf16.encode(floats, SRC_OFF, toArr, DST_OFF, count);
            for (int i = 0; i < count; i++) {
                assertEquals(Bf16.encode(floats[SRC_OFF + i]), readLe16(seg, SEG_OFF + 2L * i));
                assertEquals(Bf16.encode(floats[SRC_OFF + i]), toArr[DST_OFF + i]);
            }
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {0, 1, 2, 17, 97, 1000, 4099})
    void eightBitFormats(int count) {
        SplittableRandom random = new SplittableRandom(count + 1);
        byte[] bits = new byte[SRC_OFF + count];
        for (int i = 0; i < bits.length; i++) {
            bits[i] = (byte) random.nextInt();
        }
        float[] floats = randomFloats(random, SRC_OFF + count);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(SEG_OFF + count + 3);
            for (int i = 0; i < count; i++) {
                seg.set(ValueLayout.JAVA_BYTE, SEG_OFF + i, bits[SRC_OFF + i]);
            }
            float[] fromSeg = new float[DST_OFF + count];
            float[] fromArr = new float[DST_OFF + count];
            Fp8E4M3.decode(seg, SEG_OFF, fromSeg, DST_OFF, count);
            Fp8E4M3.decode(bits, SRC_OFF, fromArr, DST_OFF, count);
            for (int i = 0; i < count; i++) {
                assertSameFloat(Fp8E4M3.decode(bits[SRC_OFF + i]), fromSeg[DST_OFF + i]);
                assertSameFloat(Fp8E4M3.decode(bits[SRC_OFF + i]), fromArr[DST_OFF + i]);
            }
            Fp8E5M2.decode(seg, SEG_OFF, fromSeg, DST_OFF, count);
            Fp8E5M2.decode(bits, SRC_OFF, fromArr, DST_OFF, count);
            for (int i = 0; i < count; i++) {
                assertSameFloat(Fp8E5M2.decode(bits[SRC_OFF + i]), fromSeg[DST_OFF + i]);
                assertSameFloat(Fp8E5M2.decode(bits[SRC_OFF + i]), fromArr[DST_OFF + i]);
            }

            byte[] toArr = new byte[DST_OFF + count];
            Fp8E4M3.encode(floats, SRC_OFF, seg, SEG_OFF, count);
            Fp8E4M3.encode(floats, SRC_OFF, toArr, DST_OFF, count);
            for (int i = 0; i < count; i++) {
                assertEquals(Fp8E4M3.encode(floats[SRC_OFF + i]), seg.get(ValueLayout.JAVA_BYTE, SEG_OFF + i));
                assertEquals(Fp8E4M3.encode(floats[SRC_OFF + i]), toArr[DST_OFF + i]);
            }
            Fp8E5M2.encode(floats, SRC_OFF, seg, SEG_OFF, count);
            Fp8E5M2.encode(floats, SRC_OFF, toArr, DST_OFF, count);
            for (int i = 0; i < count; i++) {
                assertEquals(Fp8E5M2.encode(floats[SRC_OFF + i]), seg.get(ValueLayout.JAVA_BYTE, SEG_OFF + i));
                assertEquals(Fp8E5M2.encode(floats[SRC_OFF + i]), toArr[DST_OFF + i]);
            }
        }
    }

    @Test
    void boundsAreCheckedBeforeWriting() {
        float[] dst = new float[4];
        short[] shorts = new short[4];
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(8);
            assertThrows(IndexOutOfBoundsException.class, () -> Fp16.decode(seg, 2, dst, 0, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> Bf16.decode(seg, 0, dst, 1, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> Fp8E4M3.decode(seg, 5, dst, 0, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> Fp8E5M2.encode(dst, 1, seg, 0, 4));
            assertThrows(IndexOutOfBoundsException.class, () -> Fp16.encode(dst, 0, shorts, 1, 4));
        }
        assertArrayEquals(new float[4], dst);
    }

    /** Mix of ordinary values, tiny and huge values, signed zeros, infinities and NaNs. */
    static float[] randomFloats(SplittableRandom random, int n) {
        float[] specials = {0f, -0f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.MAX_VALUE,
                Float.MIN_VALUE, 65520f, 448f, 464f, 57344f, 1e-7f, -1e-30f};
        float[] out = new float[n];
        for (int i = 0; i < n; i++) {
            out[i] = switch (random.nextInt(3)) {
                case 0 -> specials[random.nextInt(specials.length)];
                case 1 -> Float.intBitsToFloat(random.nextInt());
                default -> (float) (random.nextGaussian() * Math.pow(10, random.nextInt(-8, 6)));
            };
        }
        return out;
    }

    private static void writeLe16(MemorySegment seg, short[] bits) {
        for (int i = SRC_OFF; i < bits.length; i++) {
            long at = SEG_OFF + 2L * (i - SRC_OFF);
            seg.set(ValueLayout.JAVA_BYTE, at, (byte) bits[i]);
            seg.set(ValueLayout.JAVA_BYTE, at + 1, (byte) (bits[i] >> 8));
        }
    }

    private static short readLe16(MemorySegment seg, long at) {
        int lo = seg.get(ValueLayout.JAVA_BYTE, at) & 0xFF;
        int hi = seg.get(ValueLayout.JAVA_BYTE, at + 1) & 0xFF;
        return (short) (lo | hi << 8);
    }

    private static void assertSameFloat(float expected, float actual) {
        assertEquals(Float.floatToRawIntBits(expected), Float.floatToRawIntBits(actual));
    }
}
