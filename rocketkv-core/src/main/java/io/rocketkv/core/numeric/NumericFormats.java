package io.rocketkv.core.numeric;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * Converts little-endian tensor elements of a {@link DType} to and from float, dispatching to {@link Bf16},
 * {@link Fp16}, {@link Fp8E4M3} and {@link Fp8E5M2}.
 *
 * <p>Supported types are those whose every value is a float: {@code F32, F16, BF16, F8_E4M3, F8_E5M2}. Decoding
 * them is exact; encoding follows the format class (round to nearest even, saturating). Other types, including
 * {@code F64} (which a float cannot hold exactly), throw {@link IllegalArgumentException}.
 */
public final class NumericFormats {

    private static final ValueLayout.OfFloat LE_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private NumericFormats() {
    }

    /** Whether {@code type} is one of the float-representable types this class converts. */
    public static boolean isSupported(DType type) {
        return switch (Objects.requireNonNull(type, "type")) {
            case F32, F16, BF16, F8_E4M3, F8_E5M2 -> true;
            default -> false;
        };
    }

    /** Decodes the single {@code type} element at byte {@code byteOffset} of {@code src}. */
    public static float decode(DType type, MemorySegment src, long byteOffset) {
        return switch (type) {
            case F32 -> src.get(LE_FLOAT, byteOffset);
            case F16 -> Fp16.decode(src.get(LE_SHORT, byteOffset));
            case BF16 -> Bf16.decode(src.get(LE_SHORT, byteOffset));
            case F8_E4M3 -> Fp8E4M3.decode(src.get(ValueLayout.JAVA_BYTE, byteOffset));
            case F8_E5M2 -> Fp8E5M2.decode(src.get(ValueLayout.JAVA_BYTE, byteOffset));
            default -> throw unsupported(type);
        };
    }

    /** Decodes {@code count} {@code type} elements starting at byte {@code srcOffsetBytes} into {@code dst[dstOff..]}. */
    public static void decode(DType type, MemorySegment src, long srcOffsetBytes, float[] dst, int dstOff, int count) {
        switch (type) {
            case F32 -> {
                Objects.checkFromIndexSize(dstOff, count, dst.length);
                MemorySegment.copy(src, LE_FLOAT, srcOffsetBytes, dst, dstOff, count);
            }
            case F16 -> Fp16.decode(src, srcOffsetBytes, dst, dstOff, count);
            case BF16 -> Bf16.decode(src, srcOffsetBytes, dst, dstOff, count);
            case F8_E4M3 -> Fp8E4M3.decode(src, srcOffsetBytes, dst, dstOff, count);
            case F8_E5M2 -> Fp8E5M2.decode(src, srcOffsetBytes, dst, dstOff, count);
            default -> throw unsupported(type);
        }
    }

    /** Encodes {@code src[srcOff..srcOff+count)} as {@code type} elements starting at byte {@code dstOffsetBytes}. */
    public static void encode(DType type, float[] src, int srcOff, MemorySegment dst, long dstOffsetBytes, int count) {
        switch (type) {
            case F32 -> {
                Objects.checkFromIndexSize(srcOff, count, src.length);
                MemorySegment.copy(src, srcOff, dst, LE_FLOAT, dstOffsetBytes, count);
            }
            case F16 -> Fp16.encode(src, srcOff, dst, dstOffsetBytes, count);
            case BF16 -> Bf16.encode(src, srcOff, dst, dstOffsetBytes, count);
            case F8_E4M3 -> Fp8E4M3.encode(src, srcOff, dst, dstOffsetBytes, count);
            case F8_E5M2 -> Fp8E5M2.encode(src, srcOff, dst, dstOffsetBytes, count);
            default -> throw unsupported(type);
        }
    }

    private static IllegalArgumentException unsupported(DType type) {
        return new IllegalArgumentException("type must be one of F32, F16, BF16, F8_E4M3, F8_E5M2 to convert to or from"
                + " float, got " + type);
    }
}
