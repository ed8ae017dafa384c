package io.rocketkv.core.weights;

import io.rocketkv.core.numeric.DType;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/** Converts the little-endian bytes of a floating-point tensor to {@code float}s. */
final class TensorReader {

    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfDouble F64_LE = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** All 256 fp8 e4m3fn values, indexed by the byte. */
    private static final float[] E4M3 = fp8Table(4, 3, 7, false);
    /** All 256 fp8 e5m2 values, indexed by the byte. */
    private static final float[] E5M2 = fp8Table(5, 2, 15, true);

    private TensorReader() {}

    /**
     * Decodes {@code count} elements of {@code dtype} from the start of {@code data}.
     *
     * @throws IllegalArgumentException when {@code dtype} is not a floating-point type
     */
    static float[] toFloats(MemorySegment data, DType dtype, int count) {
        float[] out = new float[count];
        switch (dtype) {
            case F32 -> MemorySegment.copy(data, F32_LE, 0, out, 0, count);
            case F64 -> {
                for (int i = 0; i < count; i++) {
                    out[i] = (float) data.getAtIndex(F64_LE, i);
                }
            }
            case F16 -> {
                short[] bits = new short[count];
                MemorySegment.copy(data, I16_LE, 0, bits, 0, count);
                for (int i = 0; i < count; i++) {
                    out[i] = Float.float16ToFloat(bits[i]);
                }
            }
            case BF16 -> {
                short[] bits = new short[count];
                MemorySegment.copy(data, I16_LE, 0, bits, 0, count);
                for (int i = 0; i < count; i++) {
                    out[i] = Float.intBitsToFloat(bits[i] << 16); // bf16 is the top half of an f32
                }
            }
            case F8_E4M3, F8_E5M2 -> {
                float[] table = dtype == DType.F8_E4M3 ? E4M3 : E5M2;
                byte[] bytes = new byte[count];
                MemorySegment.copy(data, ValueLayout.JAVA_BYTE, 0, bytes, 0, count);
                for (int i = 0; i < count; i++) {
                    out[i] = table[bytes[i] & 0xFF];
                }
            }
            default -> throw new IllegalArgumentException(dtype + " is not a floating-point type");
        }
        return out;
    }

    /**
     * Builds the value of every byte of an fp8 format with {@code e} exponent bits, {@code m} mantissa bits and
     * exponent {@code bias} (OCP 8-bit floating point specification):
     * <ul>
     *   <li>exponent field 0: subnormal, {@code (-1)^s * 2^(1-bias) * (0 + mantissa / 2^m)};</li>
     *   <li>otherwise: normal, {@code (-1)^s * 2^(exponent-bias) * (1 + mantissa / 2^m)};</li>
     *   <li>e5m2 ({@code ieeeSpecials}): exponent all ones is infinity (mantissa 0) or NaN, as in IEEE 754;</li>
     *   <li>e4m3fn: no infinities, only {@code S.1111.111} is NaN, so the largest finite value is 448.</li>
     * </ul>
     */
    private static float[] fp8Table(int e, int m, int bias, boolean ieeeSpecials) {
        float[] table = new float[256];
        int maxExp = (1 << e) - 1;
        int maxMant = (1 << m) - 1;
        for (int b = 0; b < 256; b++) {
            int sign = b >>> 7;
            int exp = (b >>> m) & maxExp;
            int mant = b & maxMant;
            double value;
            if (ieeeSpecials && exp == maxExp) {
                value = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
            } else if (!ieeeSpecials && exp == maxExp && mant == maxMant) {
                value = Double.NaN;
            } else if (exp == 0) {
                value = Math.scalb((double) mant / (1 << m), 1 - bias);
            } else {
                value = Math.scalb(1 + (double) mant / (1 << m), exp - bias);
            }
            table[b] = (float) (sign == 1 ? -value : value);
        }
        return table;
    }
}
