package io.rocketkv.core.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.numeric.DType;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * NaN and infinities are found wherever they sit in a tensor (first, inside a word, at a word boundary, in the
 * tail past the last whole word), named by tensor and element; the largest finite values and negative zero are
 * not. The planted positions and bit patterns are the reference.
 */
class FiniteWeightsTest {

    @TempDir
    Path dir;

    private static final int N = 37; // not a multiple of any lane count: every dtype has a tail

    /** Bit patterns per dtype: {largest finite, -0, NaN, +Inf, -Inf} (fp8 e4m3 has no infinity: NaN twice). */
    private static long[] patterns(DType t) {
        return switch (t) {
            case F64 -> new long[] {0x7FEF_FFFF_FFFF_FFFFL, 0x8000_0000_0000_0000L, 0x7FF8_0000_0000_0000L,
                0x7FF0_0000_0000_0000L, 0xFFF0_0000_0000_0000L};
            case F32 -> new long[] {0x7F7F_FFFFL, 0x8000_0000L, 0x7FC0_0000L, 0x7F80_0000L, 0xFF80_0000L};
            case F16 -> new long[] {0x7BFF, 0x8000, 0x7E00, 0x7C00, 0xFC00};
            case BF16 -> new long[] {0x7F7F, 0x8000, 0x7FC0, 0x7F80, 0xFF80};
            case F8_E5M2 -> new long[] {0x7B, 0x80, 0x7E, 0x7C, 0xFC};
            case F8_E4M3 -> new long[] {0x7E, 0x80, 0x7F, 0xFF, 0x7F};
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    private static byte[] tensor(DType t, int badIndex, long badBits, long seed) {
        int size = t.byteSize();
        ByteBuffer b = ByteBuffer.allocate(N * size).order(ByteOrder.LITTLE_ENDIAN);
        SplittableRandom r = new SplittableRandom(seed);
        long[] p = patterns(t);
        for (int i = 0; i < N; i++) {
            long bits;
            if (i == badIndex) {
                bits = badBits;
            } else if (i % 5 == 0) {
                bits = i % 10 == 0 ? p[0] : p[1]; // largest finite, negative zero
            } else {
                do { // random finite: anything whose exponent bits are not all ones
                    bits = r.nextLong();
                } while (isNonFinite(t, bits));
            }
            for (int k = 0; k < size; k++) {
                b.put((byte) (bits >>> (8 * k)));
            }
        }
        return b.array();
    }

    /** The reference rule, written per dtype from the formats' definitions. */
    private static boolean isNonFinite(DType t, long bits) {
        return switch (t) {
            case F64 -> !Double.isFinite(Double.longBitsToDouble(bits));
            case F32 -> !Float.isFinite(Float.intBitsToFloat((int) bits));
            case F16 -> !Float.isFinite(Float.float16ToFloat((short) bits));
            case BF16 -> !Float.isFinite(Float.intBitsToFloat((int) (bits & 0xFFFF) << 16));
            case F8_E5M2 -> !Float.isFinite(Float.float16ToFloat((short) ((bits & 0xFF) << 8))); // e5m2 = top of f16
            case F8_E4M3 -> (bits & 0x7F) == 0x7F;
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    private SafeTensors file(String name, DType t, byte[] bytes) throws Exception {
        Path f = dir.resolve(name + ".safetensors");
        new SafeTensorsWriter().add(name, t, new long[] {N}, bytes).write(f);
        return SafeTensors.open(f);
    }

    @ParameterizedTest
    @EnumSource(value = DType.class, names = {"F64", "F32", "F16", "BF16", "F8_E5M2", "F8_E4M3"})
    void findsEachKindOfNonFiniteValueAtEveryPosition(DType t) throws Exception {
        long[] p = patterns(t);
        String[] kinds = {"NaN", "+Infinity", "-Infinity"};
        int laneCount = 8 / t.byteSize();
        int tailStart = N / laneCount * laneCount;
        int[] positions = IntStream.of(0, 1, laneCount - 1, laneCount, tailStart - 1, tailStart, N - 1)
                .filter(i -> i < N).distinct().toArray(); // F64 has one lane a word and no tail
        for (int at : positions) {
            for (int k = 0; k < 3; k++) {
                try (SafeTensors w = file("t" + at + "_" + k, t, tensor(t, at, p[2 + k], at * 31L + k))) {
                    var found = FiniteWeights.find(w);
                    String where = t + " at " + at + " " + kinds[k];
                    assertTrue(found.isPresent(), where);
                    assertEquals(at, found.get().index(), where);
                    assertEquals(t == DType.F8_E4M3 ? "NaN" : kinds[k], found.get().value(), where);
                }
            }
        }
        try (SafeTensors clean = file("clean", t, tensor(t, -1, 0, 99))) {
            assertTrue(FiniteWeights.find(clean).isEmpty(), "largest finite values and -0 are finite");
            FiniteWeights.check(clean);
        }
    }

    @Test
    void theErrorNamesTheFirstBadTensorAndItsElement() throws Exception {
        Path f = dir.resolve("two.safetensors");
        new SafeTensorsWriter()
                .add("model.layers.1.mlp.up_proj.weight", DType.F32, new long[] {N}, tensor(DType.F32, 3, 0x7FC0_0000L, 1))
                .add("model.layers.0.self_attn.q_proj.weight", DType.BF16, new long[] {N},
                        tensor(DType.BF16, 20, 0xFF80, 2))
                .add("model.norm.weight", DType.F32, new long[] {N}, tensor(DType.F32, -1, 0, 3))
                .write(f);
        try (SafeTensors w = SafeTensors.open(f)) {
            var e = assertThrows(CheckpointFormatException.class, () -> FiniteWeights.check(w));
            assertTrue(e.getMessage().contains("tensor 'model.layers.0.self_attn.q_proj.weight'")
                    && e.getMessage().contains("-Infinity at element 20 of 37 (BF16)")
                    && e.getMessage().contains(f.getFileName().toString()), e.getMessage());
        }
    }
}
