package io.rocketkv.core.numeric;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * OCP 8-bit float E4M3 ("e4m3fn", {@code torch.float8_e4m3fn}): 1 sign, 4 exponent, 3 mantissa bits, bias 7.
 * There are no infinities: {@code S.1111.111} is NaN, every other pattern is finite; max finite
 * {@code 0x7E} = 448, min normal 2^−6, min subnormal 2^−9.
 *
 * <p>Encoding ({@link #encode(float)}) rounds to nearest, ties to even, keeps
 * subnormals and the sign of zero, and <b>saturates</b>: a finite float whose rounded value would exceed 448
 * becomes ±448. NaN encodes to {@code 0x7F} / {@code 0xFF} by sign. Because the format has no infinity,
 * ±Infinity also encodes to NaN ({@code 0x7F} / {@code 0xFF}): the OCP spec leaves infinities undefined outside
 * its saturating mode, and this matches PyTorch's conversion to {@code float8_e4m3fn}.
 *
 * <p>Decoding ({@link #decode(byte)}) is exact: every E4M3 value is a float.
 */
public final class Fp8E4M3 {

    /** Largest finite value, 448 = 2^8 · 1.75. */
    public static final float MAX_VALUE = 448f;
    /** Bit pattern of {@link #MAX_VALUE}. */
    public static final byte MAX_BITS = 0x7E;
    /** NaN (positive sign); {@code (byte) 0xFF} is the negative one. */
    public static final byte NAN_BITS = 0x7F;

    private static final int MANTISSA_BITS = 3;
    private static final int BIAS = 7;

    /** Float value of every bit pattern, indexed by {@code bits & 0xFF}. */
    private static final float[] DECODED = new float[256];

    static {
        for (int b = 0; b < 256; b++) {
            int exponent = (b >>> 3) & 0xF;
            int mantissa = b & 0x7;
            float magnitude;
            if (exponent == 0xF && mantissa == 0x7) {
                magnitude = Float.NaN;
            } else if (exponent == 0) {
                magnitude = Math.scalb((float) mantissa, 1 - BIAS - MANTISSA_BITS); // m · 2^−9
            } else {
                magnitude = Float.intBitsToFloat(((exponent - BIAS + 127) << 23) | (mantissa << (23 - MANTISSA_BITS)));
            }
            DECODED[b] = (b & 0x80) != 0 ? -magnitude : magnitude;
        }
    }

    private Fp8E4M3() {
    }

    /**
     * Rounds {@code f} to the nearest E4M3 value (ties to even), saturating finite overflow to ±448;
     * NaN and ±Infinity give NaN.
     */
    public static byte encode(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 24) & 0x80;
        int abs = bits & 0x7FFF_FFFF;
        if (abs >= 0x7F80_0000) {
            return (byte) (sign | NAN_BITS);
        }
        return (byte) (sign | MinifloatRounding.roundMagnitude(abs, MANTISSA_BITS, BIAS, MAX_BITS));
    }

    /** The exact float value of the E4M3 bit pattern {@code b}. */
    public static float decode(byte b) {
        return DECODED[b & 0xFF];
    }

    /** Decodes {@code count} E4M3 bytes starting at byte {@code srcOffsetBytes} of {@code src}. */
    public static void decode(MemorySegment src, long srcOffsetBytes, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        MemorySegment s = src.asSlice(srcOffsetBytes, count);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = DECODED[s.get(ValueLayout.JAVA_BYTE, i) & 0xFF];
        }
    }

    /** Encodes {@code count} floats as E4M3 bytes starting at byte {@code dstOffsetBytes} of {@code dst}. */
    public static void encode(float[] src, int srcOff, MemorySegment dst, long dstOffsetBytes, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        MemorySegment d = dst.asSlice(dstOffsetBytes, count);
        for (int i = 0; i < count; i++) {
            d.set(ValueLayout.JAVA_BYTE, i, encode(src[srcOff + i]));
        }
    }

    /** Decodes {@code count} E4M3 bit patterns from {@code src[srcOff..]} into {@code dst[dstOff..]}. */
    public static void decode(byte[] src, int srcOff, float[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = DECODED[src[srcOff + i] & 0xFF];
        }
    }

    /** Encodes {@code count} floats from {@code src[srcOff..]} into E4M3 bit patterns in {@code dst[dstOff..]}. */
    public static void encode(float[] src, int srcOff, byte[] dst, int dstOff, int count) {
        Objects.checkFromIndexSize(srcOff, count, src.length);
        Objects.checkFromIndexSize(dstOff, count, dst.length);
        for (int i = 0; i < count; i++) {
            dst[dstOff + i] = encode(src[srcOff + i]);
        }
    }
}
