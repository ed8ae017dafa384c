package io.rocketkv.core.kernels.simd;

import io.rocketkv.core.kernels.dense.WeightFormat;
import io.rocketkv.core.kernels.dense.WeightMatrix;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Loads {@link #L} consecutive weight elements as one fp32 vector, widening in registers: bf16 is the upper half of
 * an fp32 (shift left 16), fp16 is rebuilt from its bits (exponent rebias by one multiply, inf/NaN kept), int8 and
 * int4 are converted and scaled by their block's scale. Exact for every float format: each value is an fp32.
 */
final class WeightVectors {

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** fp32 lanes per vector (16 with AVX-512, 8 with AVX2, 4 with NEON). */
    static final int L = F.length();
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    private static final VectorSpecies<Short> S =
            VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    /** L bytes, or 8 where L is 4 (the narrowest byte vector; its first L lanes are used). */
    private static final VectorSpecies<Byte> B =
            VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, F.vectorBitSize() / 4)));
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE);

    private WeightVectors() {
    }

    /** L fp32 values at {@code byteOffset}. */
    static FloatVector f32(MemorySegment seg, long byteOffset) {
        return FloatVector.fromMemorySegment(F, seg, byteOffset, LE);
    }

    /** L bf16 values at {@code byteOffset}, widened exactly. */
    static FloatVector bf16(MemorySegment seg, long byteOffset) {
        IntVector i = (IntVector) ShortVector.fromMemorySegment(S, seg, byteOffset, LE).convertShape(VectorOperators.S2I, I, 0);
        return i.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    /**
     * L fp16 values at {@code byteOffset}, widened exactly: the 15 magnitude bits shifted into fp32 position are
     * the value times 2^−112 for normals and subnormals alike, so one multiply by 2^112 rebiases them; the
     * all-ones exponent (inf, NaN) is set to fp32's.
     */
    static FloatVector f16(MemorySegment seg, long byteOffset) {
        IntVector h = (IntVector) ShortVector.fromMemorySegment(S, seg, byteOffset, LE).convertShape(VectorOperators.S2I, I, 0);
        IntVector em = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        IntVector mag = em.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> special = em.compare(VectorOperators.GE, 0x0F80_0000);
        IntVector bits = mag.blend(em.or(0x7F80_0000), special);
        return bits.or(h.and(0x8000).lanewise(VectorOperators.LSHL, 16)).reinterpretAsFloats();
    }

    /** L unscaled int8 values at {@code byteOffset}. */
    static FloatVector q8(MemorySegment seg, long byteOffset) {
        return (FloatVector) ByteVector.fromMemorySegment(B, seg, byteOffset, LE).convertShape(VectorOperators.B2F, F, 0);
    }

    /**
     * L unscaled int4 values (q − 8) of the Q4_0 block at {@code blockByte}, elements {@code e0 … e0+L−1} of it
     * ({@code e0} a multiple of L): bytes {@code e0 mod 16 …}, low nibbles for e0 < 16, high nibbles after.
     */
    static FloatVector q4(MemorySegment seg, long blockByte, int e0) {
        ByteVector b = ByteVector.fromMemorySegment(B, seg, blockByte + (e0 & 15), LE);
        b = e0 < 16 ? b.and((byte) 0xF) : b.lanewise(VectorOperators.LSHR, 4);
        return (FloatVector) b.sub((byte) 8).convertShape(VectorOperators.B2F, F, 0);
    }

    /** Scale of block {@code block} of row {@code row}. */
    static float scale(WeightMatrix w, int row, int block) {
        return w.scales().getAtIndex(LE_FLOAT, (long) row * (w.k() / WeightFormat.BLOCK) + block);
    }

    /**
     * Row {@code row} of {@code w}, elements {@code [0, k)}, as fp32 into {@code dst[off …]} (vector-widened; the
     * last {@code k mod L} elements of a float format one at a time).
     */
    static void widenRow(WeightMatrix w, int row, float[] dst, int off) {
        int k = w.k();
        MemorySegment seg = w.data();
        long base = w.offset(row, 0);
        int kv = k - k % L;
        switch (w.format()) {
            case F32 -> MemorySegment.copy(seg, LE_FLOAT, base, dst, off, k);
            case BF16 -> {
                for (int i = 0; i < kv; i += L) {
                    bf16(seg, base + 2L * i).intoArray(dst, off + i);
                }
                io.rocketkv.core.kernels.dense.WeightRows.decode(w, row, kv, dst, off + kv, k - kv);
            }
            case F16 -> {
                for (int i = 0; i < kv; i += L) {
                    f16(seg, base + 2L * i).intoArray(dst, off + i);
                }
                io.rocketkv.core.kernels.dense.WeightRows.decode(w, row, kv, dst, off + kv, k - kv);
            }
            case Q8_0 -> {
                for (int i = 0; i < k; i += L) {
                    q8(seg, base + i).mul(scale(w, row, i / WeightFormat.BLOCK)).intoArray(dst, off + i);
                }
            }
            case Q4_0 -> {
                for (int i = 0; i < k; i += L) {
                    int block = i / WeightFormat.BLOCK;
                    q4(seg, base + block * (WeightFormat.BLOCK / 2L), i % WeightFormat.BLOCK)
                            .mul(scale(w, row, block)).intoArray(dst, off + i);
                }
            }
        }
    }
}
