package io.rocketkv.core.numeric;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * bfloat16: the upper 16 bits of an IEEE binary32 float (1 sign, 8 exponent, 7 mantissa bits, bias 127).
 *
 * <p>Encoding ({@link #encode(float)}) rounds to nearest, ties to even, keeps subnormals and the sign of zero,
 * and <b>saturates</b>: a finite float whose rounded value would exceed {@link #MAX_VALUE} becomes
 * ±{@link #MAX_VALUE}, never infinity. ±Infinity encodes to ±infinity; NaN encodes to the quiet NaN
 * {@code 0x7FC0} with the input's sign.
 *
 * <p>Decoding ({@link #decode(short)}) is exact: every bfloat16 value is a float.
 *
 * <p>Bulk methods read and write little-endian 2-byte elements.
 */
public final class Bf16 {

    /** Largest finite bfloat16 value, {@code 0x7F7F} = (2 − 2^−7)·2^127 ≈ 3.3895e38. */
    public static final float MAX_VALUE = Float.intBitsToFloat(0x7F7F_0000);
    /** Bit pattern of {@link #MAX_VALUE}. */
    public static final short MAX_BITS = 0x7F7F;
    /** Canonical quiet NaN (positive sign). */
    public static final short NAN_BITS = 0x7FC0;
    /** Positive infinity. */
    public static final short POSITIVE_INFINITY_BITS = 0x7F80;

    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Bf16() {
    }

    /** Rounds {@code f} to the nearest bfloat16 (ties to even), saturating finite overflow to ±{@link #MAX_VALUE}. */
    public static short encode(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFF_FFFF;
        if (abs >= 0x7F80_0000) {
            return (short) (sign | (abs == 0x7F80_0000 ? POSITIVE_INFINITY_BITS : NAN_BITS));
        }
        // Round the low 16 bits away, to nearest, ties to the even upper half. A carry moves into the
        // exponent, which is exactly the next bfloat16 value (this also covers subnormals).
        int mag = (abs + 0x7FFF + ((abs >>> 16) & 1)) >>> 16;
        if (mag > MAX_BITS) {
            mag = MAX_BITS;
        }
        return (short) (sign | mag);
    }

    /** The exact float value of the bfloat16 bit pattern {@code h}. */
    public static float decode(short h) {
        return Float.intBitsToFloat(h << 16);
    }

    /** Decodes {@code count} little-endian bfloat16 values starting at byte {@code srcOffsetBytes} of {@code src}. */
    public static void decode(MemorySegment src, long srcOffsetBytes, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        MemorySegment s = src.asSlice(srcOffsetBytes, 2L * count);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = decode(s.getAtIndex(LE_SHORT, i));
        }
    }

    /** Encodes {@code count} floats as little-endian bfloat16 values starting at byte {@code dstOffsetBytes}. */
    public static void encode(float[] src, int srcOff, MemorySegment dst, long dstOffsetBytes, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        MemorySegment d = dst.asSlice(dstOffsetBytes, 2L * count);
        for (int i = 0; i < count; i++) {
            d.setAtIndex(LE_SHORT, i, encode(src[srcOff + i]));
        }
    }

    /** Decodes {@code count} bfloat16 bit patterns from {@code src[srcOff..]} into {@code dst[dstOff..]}. */
    public static void decode(short[] src, int srcOff, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = decode(src[srcOff + i]);
        }
    }

    /** Encodes {@code count} floats from {@code src[srcOff..]} into bfloat16 bit patterns in {@code dst[dstOff..]}. */
    public static void encode(float[] src, int srcOff, short[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = encode(src[srcOff + i]);
        }
    }
}
