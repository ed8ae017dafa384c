package io.rocketkv.core.numeric;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * OCP 8-bit float E5M2 ({@code torch.float8_e5m2}): 1 sign, 5 exponent, 2 mantissa bits, bias 15, IEEE-like with
 * infinities ({@code S.11111.00}) and NaNs ({@code S.11111.xx}, xx ≠ 0); max finite {@code 0x7B} = 57344,
 * min normal 2^−14, min subnormal 2^−16. An E5M2 pattern is the high byte of the binary16 with the same value.
 *
 * <p>Encoding ({@link #encode(float)}) rounds to nearest, ties to even, keeps subnormals and the sign of zero,
 * and <b>saturates</b>: a finite float whose rounded value would exceed 57344 becomes ±57344, never infinity.
 * ±Infinity encodes to ±infinity; NaN encodes to the quiet NaN {@code 0x7E} with the input's sign. (Rounding goes
 * straight from float; rounding through binary16 first would round twice and be wrong at some ties.)
 *
 * <p>Decoding ({@link #decode(byte)}) is exact: every E5M2 value is a float.
 */
public final class Fp8E5M2 {

    /** Largest finite value, 57344 = 2^15 · 1.75. */
    public static final float MAX_VALUE = 57344f;
    /** Bit pattern of {@link #MAX_VALUE}. */
    public static final byte MAX_BITS = 0x7B;
    /** Canonical quiet NaN (positive sign). */
    public static final byte NAN_BITS = 0x7E;
    /** Positive infinity. */
    public static final byte POSITIVE_INFINITY_BITS = 0x7C;

    private static final int MANTISSA_BITS = 2;
    private static final int BIAS = 15;

    /** Float value of every bit pattern, indexed by {@code bits & 0xFF}. */
    private static final float[] DECODED = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            DECODED[b] = Float.float16ToFloat((short) (b << 8));
        }
    }

    private Fp8E5M2() {
    }

    /** Rounds {@code f} to the nearest E5M2 value (ties to even), saturating finite overflow to ±57344. */
    public static byte encode(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 24) & 0x80;
        int abs = bits & 0x7FFF_FFFF;
        if (abs >= 0x7F80_0000) {
            return (byte) (sign | (abs == 0x7F80_0000 ? POSITIVE_INFINITY_BITS : NAN_BITS));
        }
        return (byte) (sign | MinifloatRounding.roundMagnitude(abs, MANTISSA_BITS, BIAS, MAX_BITS));
    }

    /** The exact float value of the E5M2 bit pattern {@code b}. */
    public static float decode(byte b) {
        return DECODED[b & 0xFF];
    }

    /** Decodes {@code count} E5M2 bytes starting at byte {@code srcOffsetBytes} of {@code src}. */
    public static void decode(MemorySegment src, long srcOffsetBytes, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        MemorySegment s = src.asSlice(srcOffsetBytes, count);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = DECODED[s.get(ValueLayout.JAVA_BYTE, i) & 0xFF];
        }
    }

    /** Encodes {@code count} floats as E5M2 bytes starting at byte {@code dstOffsetBytes} of {@code dst}. */
    public static void encode(float[] src, int srcOff, MemorySegment dst, long dstOffsetBytes, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        MemorySegment d = dst.asSlice(dstOffsetBytes, count);
        for (int i = 0; i < count; i++) {
            d.set(ValueLayout.JAVA_BYTE, i, encode(src[srcOff + i]));
        }
    }

    /** Decodes {@code count} E5M2 bit patterns from {@code src[srcOff..]} into {@code dst[dstOff..]}. */
    public static void decode(byte[] src, int srcOff, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = DECODED[src[srcOff + i] & 0xFF];
        }
    }

    /** Encodes {@code count} floats from {@code src[srcOff..]} into E5M2 bit patterns in {@code dst[dstOff..]}. */
    public static void encode(float[] src, int srcOff, byte[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = encode(src[srcOff + i]);
        }
    }
}
