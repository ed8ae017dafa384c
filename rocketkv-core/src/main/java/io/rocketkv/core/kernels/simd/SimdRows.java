package io.rocketkv.core.kernels.simd;

import static io.rocketkv.core.kernels.simd.WeightVectors.F;
import static io.rocketkv.core.kernels.simd.WeightVectors.I;
import static io.rocketkv.core.kernels.simd.WeightVectors.L;

import io.rocketkv.core.kernels.CpuKvCache;
import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import io.rocketkv.core.numeric.Fp8E4M3;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API row arithmetic of {@link SimdAttention}: q·k dots and p·v accumulations against one cached row
 * (F32, or BF16 widened in registers; an F8_E4M3 row is widened once per key into floats, unscaled, and the
 * caller applies the cache's K or V scale), and the online softmax's step over a tile of scores. Lane sums
 * and exp are {@link Lanes}' (the same fixed tree and polynomial as the dense ops), so a score gets the same exp
 * in a vector lane or in a tail, and a row's result does not depend on the JIT's state.
 *
 * <p><b>BF16 rows, lane order.</b> A BF16 row is read as ints, each holding two elements: {@code int << 16} is the
 * even element, {@code int & 0xFFFF0000} the odd one, both exact floats. So within each group of
 * {@code 2·L} elements (L = float lanes) a query or accumulator vector is kept in the order {@link #laneOrder}
 * gives: the L even elements, then the L odd ones; the tail past the last whole group stays in place. F32 rows
 * keep element order.
 *
 * <p>Every method is a loop whose vectors stay inside it (Lanes' methods are small enough to be inlined into it):
 * a vector passed to or returned from a call the JIT does not inline is boxed, which costs more than the
 * arithmetic.
 */
final class SimdRows {

    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    /** Bytes read for L e4m3 codes: at least L lanes, at least 64 bits (the smallest byte vector). */
    private static final VectorSpecies<Byte> B8 = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, 8 * L)));
    private static final float FP8_REBIAS = Math.scalb(1f, 120);

    private SimdRows() {
    }

    /** Position in the element order of each lane slot of a row of {@code d} elements (see the class comment). */
    static int[] laneOrder(int d, DType dtype) {
        int[] order = new int[d];
        for (int c = 0; c < d; c++) {
            order[c] = c;
        }
        if (dtype == DType.BF16) {
            for (int c0 = 0; c0 + 2 * L <= d; c0 += 2 * L) {
                for (int k = 0; k < L; k++) {
                    order[c0 + k] = c0 + 2 * k;
                    order[c0 + L + k] = c0 + 2 * k + 1;
                }
            }
        }
        return order;
    }

    /** q (lane order) · the row at byte {@code off} of {@code seg}. */
    static float dot(DType dtype, float[] q, int qo, MemorySegment seg, long off, int d) {
        return switch (dtype) {
            case F32 -> dotF32(q, qo, seg, off, d);
            case BF16 -> dotBf16(q, qo, seg, off, d);
            default -> throw new IllegalArgumentException(dtype + " rows are widened first (widenFp8), then dotArray");
        };
    }

    /** acc (lane order) += p · the row at byte {@code off} of {@code seg}. */
    static void axpy(DType dtype, float p, MemorySegment seg, long off, float[] acc, int ao, int d) {
        switch (dtype) {
            case F32 -> axpyF32(p, seg, off, acc, ao, d);
            case BF16 -> axpyBf16(p, seg, off, acc, ao, d);
            default -> throw new IllegalArgumentException(dtype + " rows are widened first (widenFp8), then axpyArray");
        }
    }

    /**
     * L e4m3 codes at byte {@code off} of {@code seg} as floats, unscaled: {@code (b & 0x7F) << 20} puts exponent
     * and mantissa in a float's fields (subnormal codes land on float subnormals), the sign goes to bit 31, and the
     * product with 2^120 rebiases the exponent, exactly (the NaN code 0x7F reads as 480: a cache never stores it,
     * since its writes saturate at ±448).
     */
    private static FloatVector fp8(MemorySegment seg, long off) {
        IntVector w = (IntVector) ByteVector.fromMemorySegment(B8, seg, off, LE).convertShape(VectorOperators.B2I, I, 0);
        return w.and(0x7F).lanewise(VectorOperators.LSHL, 20).or(w.and(0x80).lanewise(VectorOperators.LSHL, 24))
                .reinterpretAsFloats().mul(FP8_REBIAS);
    }

    /**
     * The F8_E4M3 row at byte {@code off} of {@code seg}, unscaled, into {@code dst[0 .. d)} (element order): widened
     * once per key so that the G query rows of a group then dot and accumulate against floats.
     */
    static void widenFp8(MemorySegment seg, long off, float[] dst, int d) {
        int c = 0;
        for (; c + B8.length() <= d && L <= B8.length(); c += L) {
            fp8(seg, off + c).intoArray(dst, c);
        }
        for (; c < d; c++) {
            dst[c] = Fp8E4M3.decode(seg.get(ValueLayout.JAVA_BYTE, off + c));
        }
    }

    /** q (element order) · k[0 .. d). */
    static float dotArray(float[] q, int qo, float[] k, int d) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        int c = 0;
        for (; c + 2 * L <= d; c += 2 * L) {
            a0 = FloatVector.fromArray(F, q, qo + c).fma(FloatVector.fromArray(F, k, c), a0);
            a1 = FloatVector.fromArray(F, q, qo + c + L).fma(FloatVector.fromArray(F, k, c + L), a1);
        }
        if (c + L <= d) {
            a0 = FloatVector.fromArray(F, q, qo + c).fma(FloatVector.fromArray(F, k, c), a0);
            c += L;
        }
        float s = Lanes.sum(a0.add(a1));
        for (; c < d; c++) {
            s += q[qo + c] * k[c];
        }
        return s;
    }

    /** acc[ao .. ao + d) += p · v[0 .. d). */
    static void axpyArray(float p, float[] v, float[] acc, int ao, int d) {
        int c = 0;
        for (; c + L <= d; c += L) {
            FloatVector.fromArray(F, v, c).fma(FloatVector.broadcast(F, p), FloatVector.fromArray(F, acc, ao + c))
                    .intoArray(acc, ao + c);
        }
        for (; c < d; c++) {
            acc[ao + c] += p * v[c];
        }
    }

    private static float dotF32(float[] q, int qo, MemorySegment seg, long off, int d) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        int c = 0;
        for (; c + 2 * L <= d; c += 2 * L) {
            a0 = FloatVector.fromArray(F, q, qo + c).fma(FloatVector.fromMemorySegment(F, seg, off + 4L * c, LE), a0);
            a1 = FloatVector.fromArray(F, q, qo + c + L)
                    .fma(FloatVector.fromMemorySegment(F, seg, off + 4L * (c + L), LE), a1);
        }
        if (c + L <= d) {
            a0 = FloatVector.fromArray(F, q, qo + c).fma(FloatVector.fromMemorySegment(F, seg, off + 4L * c, LE), a0);
            c += L;
        }
        float s = Lanes.sum(a0.add(a1));
        for (; c < d; c++) {
            s += q[qo + c] * seg.get(CpuKvCache.LE_FLOAT, off + 4L * c);
        }
        return s;
    }

    private static float dotBf16(float[] q, int qo, MemorySegment seg, long off, int d) {
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = FloatVector.zero(F);
        int c = 0;
        for (; c + 2 * L <= d; c += 2 * L) {
            IntVector w = IntVector.fromMemorySegment(I, seg, off + 2L * c, LE);
            a0 = FloatVector.fromArray(F, q, qo + c).fma(w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats(), a0);
            a1 = FloatVector.fromArray(F, q, qo + c + L).fma(w.and(0xFFFF0000).reinterpretAsFloats(), a1);
        }
        float s = Lanes.sum(a0.add(a1));
        for (; c < d; c++) {
            s += q[qo + c] * Bf16.decode(seg.get(CpuKvCache.LE_SHORT, off + 2L * c));
        }
        return s;
    }

    private static void axpyF32(float p, MemorySegment seg, long off, float[] acc, int ao, int d) {
        int c = 0;
        for (; c + L <= d; c += L) {
            FloatVector.fromMemorySegment(F, seg, off + 4L * c, LE)
                    .fma(FloatVector.broadcast(F, p), FloatVector.fromArray(F, acc, ao + c)).intoArray(acc, ao + c);
        }
        for (; c < d; c++) {
            acc[ao + c] += p * seg.get(CpuKvCache.LE_FLOAT, off + 4L * c);
        }
    }

    private static void axpyBf16(float p, MemorySegment seg, long off, float[] acc, int ao, int d) {
        int c = 0;
        for (; c + 2 * L <= d; c += 2 * L) {
            IntVector w = IntVector.fromMemorySegment(I, seg, off + 2L * c, LE);
            w.lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats()
                    .fma(FloatVector.broadcast(F, p), FloatVector.fromArray(F, acc, ao + c)).intoArray(acc, ao + c);
            w.and(0xFFFF0000).reinterpretAsFloats()
                    .fma(FloatVector.broadcast(F, p), FloatVector.fromArray(F, acc, ao + c + L)).intoArray(acc, ao + c + L);
        }
        for (; c < d; c++) {
            acc[ao + c] += p * Bf16.decode(seg.get(CpuKvCache.LE_SHORT, off + 2L * c));
        }
    }

    /**
     * Folds one query row's tile of scores {@code p[po .. po+n)} (n ≥ 1) into its running softmax: the new max
     * {@code m' = max(max[r], scores)}, each score replaced by {@code e^(score − m')} ({@link Lanes#exp}), the
     * accumulator {@code acc[ao .. ao+d)} rescaled by {@code e^(max[r] − m')} (0 for the first tile, max −∞), and
     * {@code sum[r] = sum[r]·e^(max[r] − m') + Σ e^(score − m')}.
     *
     * <p>One method, loops written out: once per row and tile it is cheap to call, and being larger than C2's
     * hot-inlining limit (FreqInlineSize, 325 bytecodes) it is compiled on its own, which leaves
     * {@link GroupTile#fold}'s inlining budget to the dot and axpy of its key loops (with the loops in small
     * methods, the fold's compilation ran out of nodes before reaching axpy: {@code -XX:+PrintInlining}).
     */
    static void softmaxTile(float[] p, int po, int n, float[] max, float[] sum, int r, float[] acc, int ao, int d) {
        int c = 0;
        float mNew = max[r];
        if (n >= L) {
            FloatVector v = FloatVector.fromArray(F, p, po);
            for (c = L; c + L <= n; c += L) {
                v = v.max(FloatVector.fromArray(F, p, po + c));
            }
            mNew = Math.max(mNew, v.reduceLanes(VectorOperators.MAX)); // max is exact in any order
        }
        for (; c < n; c++) {
            mNew = Math.max(mNew, p[po + c]);
        }
        FloatVector total = FloatVector.zero(F);
        for (c = 0; c + L <= n; c += L) {
            FloatVector e = Lanes.exp(FloatVector.fromArray(F, p, po + c).sub(mNew));
            e.intoArray(p, po + c);
            total = total.add(e);
        }
        float tileSum = Lanes.sum(total);
        for (; c < n; c++) {
            float e = Lanes.exp(p[po + c] - mNew);
            p[po + c] = e;
            tileSum += e;
        }
        float corr = Lanes.exp(max[r] - mNew);
        if (corr != 1f) {
            for (c = 0; c + L <= d; c += L) {
                FloatVector.fromArray(F, acc, ao + c).mul(corr).intoArray(acc, ao + c);
            }
            for (; c < d; c++) {
                acc[ao + c] *= corr;
            }
        }
        sum[r] = sum[r] * corr + tileSum;
        max[r] = mNew;
    }
}
