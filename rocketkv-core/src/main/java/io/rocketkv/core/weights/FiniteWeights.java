package io.rocketkv.core.weights;

import io.rocketkv.core.numeric.DType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Finds NaN and infinite values in a checkpoint's floating-point tensors, so that a corrupt file is reported
 * when it is loaded, naming the tensor, rather than as NaN logits at the first request.
 *
 * <p>A value is non-finite when its exponent bits are all ones: F32 {@code 0x7F80_0000}, F64
 * {@code 0x7FF0…}, F16 {@code 0x7C00}, BF16 {@code 0x7F80}, F8_E5M2 {@code 0x7C}; F8_E4M3 ("fn") has no
 * infinity and its only NaN is {@code S.1111.111}. Whole 8-byte words are tested at once (one mask per lane),
 * and only a word with a hit is looked at element by element. Tensors are scanned in parallel; the cost is one
 * read of the weights, which the load reads anyway (the second read comes from the page cache).
 */
public final class FiniteWeights {

    private static final ValueLayout.OfLong WORD = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private FiniteWeights() {
    }

    /** The first non-finite value found: tensor, element index (row-major), and what it is. */
    public record NonFinite(TensorInfo tensor, long index, String value) {
        /** The message of the exception {@link #check} throws. */
        public String message() {
            return "tensor '" + tensor.name() + "' in " + tensor.file() + " holds " + value + " at element " + index
                    + " of " + tensor.elementCount() + " (" + tensor.dtype().safetensorsName() + "): the checkpoint"
                    + " is corrupt or was exported from a diverged run; download or export it again";
        }
    }

    /**
     * @throws CheckpointFormatException naming the tensor (the first by name that has one) and the element,
     *                                   when a floating-point tensor holds NaN or ±infinity
     */
    public static void check(SafeTensors weights) {
        Optional<NonFinite> bad = find(weights);
        if (bad.isPresent()) {
            throw new CheckpointFormatException(bad.get().message());
        }
    }

    /** The first non-finite value (by tensor name, then element), if any. */
    public static Optional<NonFinite> find(SafeTensors weights) {
        List<String> names = weights.names().stream().sorted().toList();
        return names.parallelStream()
                .map(n -> scan(weights.info(n), weights.data(n)))
                .flatMap(Optional::stream)
                .min(Comparator.comparing((NonFinite f) -> f.tensor().name()));
    }

    static Optional<NonFinite> scan(TensorInfo info, MemorySegment data) {
        DType t = info.dtype();
        if (!t.isFloatingPoint()) {
            return Optional.empty();
        }
        int size = t.byteSize();
        long laneMask = switch (t) { // the exponent (fp8 e4m3: exponent and mantissa) bits of one element
            case F64 -> 0x7FF0_0000_0000_0000L;
            case F32 -> 0x7F80_0000L;
            case F16 -> 0x7C00L;
            case BF16 -> 0x7F80L;
            case F8_E5M2 -> 0x7CL;
            case F8_E4M3 -> 0x7FL;
            default -> throw new IllegalStateException("not floating point: " + t);
        };
        long mask = 0;
        long lowBits = 0; // 1 in the lowest bit of each lane
        long highBits; // 1 in the highest bit of each lane
        for (int lane = 0; lane < 8 / size; lane++) {
            mask |= laneMask << (lane * 8 * size);
            lowBits |= 1L << (lane * 8 * size);
        }
        highBits = lowBits << (8 * size - 1);
        long bytes = data.byteSize();
        long words = bytes / 8;
        for (long w = 0; w < words; w++) {
            long x = data.get(WORD, w * 8);
            // lanes of y are 0 exactly where every masked bit is set; the sign bit of a lane is never in the
            // mask, so the has-zero-lane test below is exact
            long y = (x & mask) ^ mask;
            if (((y - lowBits) & ~y & highBits) != 0) {
                Optional<NonFinite> hit = element(info, data, w * 8 / size, Math.min(8 / size, (bytes - w * 8) / size));
                if (hit.isPresent()) {
                    return hit;
                }
            }
        }
        long tail = words * 8 / size;
        return element(info, data, tail, info.elementCount() - tail);
    }

    /** Looks at elements {@code [from, from + n)} one by one. */
    private static Optional<NonFinite> element(TensorInfo info, MemorySegment data, long from, long n) {
        DType t = info.dtype();
        for (long i = from; i < from + n; i++) {
            long off = i * t.byteSize();
            String what = switch (t) {
                case F64 -> describe(data.get(ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), off));
                case F32 -> describe(data.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), off));
                case F16 -> small(data.get(SHORT, off), 0x8000, 0x7C00, 0x03FF);
                case BF16 -> small(data.get(SHORT, off), 0x8000, 0x7F80, 0x007F);
                case F8_E5M2 -> small(data.get(ValueLayout.JAVA_BYTE, off), 0x80, 0x7C, 0x03);
                case F8_E4M3 -> (data.get(ValueLayout.JAVA_BYTE, off) & 0x7F) == 0x7F ? "NaN" : null;
                default -> null;
            };
            if (what != null) {
                return Optional.of(new NonFinite(info, i, what));
            }
        }
        return Optional.empty();
    }

    private static String describe(double v) {
        return Double.isNaN(v) ? "NaN" : Double.isInfinite(v) ? (v > 0 ? "+Infinity" : "-Infinity") : null;
    }

    /** A small IEEE-style float: an all-ones exponent is ±infinity with a zero mantissa, else NaN. */
    private static String small(int bits, int sign, int exponent, int mantissa) {
        if ((bits & exponent) != exponent) {
            return null;
        }
        if ((bits & mantissa) != 0) {
            return "NaN";
        }
        return (bits & sign) != 0 ? "-Infinity" : "+Infinity";
    }
}
