package io.rocketkv.core.numeric;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * IEEE 754 binary16 ("half"): 1 sign, 5 exponent, 10 mantissa bits, bias 15; max finite 65504.
 *
 * <p>Encoding ({@link #encode(float)}) rounds to nearest, ties to even, keeps subnormals and the sign of zero,
 * and <b>saturates</b>: a finite float whose rounded value would exceed 65504 becomes ±65504, never infinity.
 * (This differs from {@link Float#floatToFloat16}, which rounds floats ≥ 65520 to infinity.) ±Infinity encodes
 * to ±infinity; NaN encodes to the quiet NaN {@code 0x7E00} with the input's sign.
 *
 * <p>Decoding ({@link #decode(short)}) is exact: every binary16 value is a float.
 *
 * <p>Bulk methods read and write little-endian 2-byte elements.
 */
public final class Fp16 {

    /** Largest finite binary16 value, 65504. */
    public static final float MAX_VALUE = 65504f;
    /** Bit pattern of {@link #MAX_VALUE}. */
    public static final short MAX_BITS = 0x7BFF;
    /** Canonical quiet NaN (positive sign). */
    public static final short NAN_BITS = 0x7E00;
    /** Positive infinity. */
    public static final short POSITIVE_INFINITY_BITS = 0x7C00;

    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private Fp16() {
    }

    /** Rounds {@code f} to the nearest binary16 (ties to even), saturating finite overflow to ±65504. */
    public static short encode(float f) {
        // Float.floatToFloat16 rounds to nearest even and handles subnormals (an intrinsic on most CPUs);
        // only its overflow-to-infinity and NaN payloads are replaced here.
        short h = Float.floatToFloat16(f);
        if ((h & 0x7C00) == 0x7C00) {
            int sign = h & 0x8000;
            if (Float.isNaN(f)) {
                return (short) (sign | NAN_BITS);
            }
            if (!Float.isInfinite(f)) {
                return (short) (sign | MAX_BITS);
            }
        }
        return h;
    }

    /** The exact float value of the binary16 bit pattern {@code h}. */
    public static float decode(short h) {
        return Float.float16ToFloat(h);
    }

    /** Decodes {@code count} little-endian binary16 values starting at byte {@code srcOffsetBytes} of {@code src}. */
    public static void decode(MemorySegment src, long srcOffsetBytes, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        MemorySegment s = src.asSlice(srcOffsetBytes, 2L * count);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = Float.float16ToFloat(s.getAtIndex(LE_SHORT, i));
        }
    }

    /** Encodes {@code count} floats as little-endian binary16 values starting at byte {@code dstOffsetBytes}. */
    public static void encode(float[] src, int srcOff, MemorySegment dst, long dstOffsetBytes, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        MemorySegment d = dst.asSlice(dstOffsetBytes, 2L * count);
        for (int i = 0; i < count; i++) {
            d.setAtIndex(LE_SHORT, i, encode(src[srcOff + i]));
        }
    }

    /** Decodes {@code count} binary16 bit patterns from {@code src[srcOff..]} into {@code dst[dstOff..]}. */
    public static void decode(short[] src, int srcOff, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = Float.float16ToFloat(src[srcOff + i]);
        }
    }

    /** Encodes {@code count} floats from {@code src[srcOff..]} into binary16 bit patterns in {@code dst[dstOff..]}. */
    public static void encode(float[] src, int srcOff, short[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = encode(src[srcOff + i]);
        }
    }
}
