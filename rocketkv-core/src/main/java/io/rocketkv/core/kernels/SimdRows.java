package io.rocketkv.core.kernels;

import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Vector API row arithmetic of {@link SimdAttention}: q·k dots and p·v accumulations against one cached row
 * (F32, or BF16 widened in registers), and a polynomial exp.
 *
 * <p><b>BF16 rows, lane order.</b> A BF16 row is read as ints, each holding two elements: {@code int << 16} is the
 * even element, {@code int & 0xFFFF0000} the odd one, both exact floats. So within each group of
 * {@code 2·L} elements (L = float lanes) a query or accumulator vector is kept in the order {@link #laneOrder}
 * gives: the L even elements, then the L odd ones; the tail past the last whole group stays in place. F32 rows
 * keep element order.
 *
 * <p><b>exp.</b> {@link #expSub} computes Cephes' expf: {@code x = n·ln2 + r} (Cody–Waite split of ln2,
 * |r| ≤ ln2/2), a degree-6 polynomial for e^r, then the exponent bits of 2^n. Inputs below −87.336 give 0 (so
 * −∞ gives 0), above 88 are clamped. Its largest error against {@link Math#exp} on [−87.3, 10] is 8.2·10⁻⁸
 * relative (under 1 ulp; {@code SimdRowsTest} bounds it at 2·10⁻⁷). {@link #exp(float)} is the same arithmetic on one
 * value (tails), so a score gets the same exp in a vector lane or in a tail.
 */
final class SimdRows {

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    static final int L = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private static final float EXP_LO = -87.336f;
    private static final float EXP_HI = 88f;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float MAGIC = 12582912f; // 1.5·2^23: adding it rounds to an integer
    private static final int MAGIC_BITS = Float.floatToRawIntBits(MAGIC);
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Float>[] HALVES = java.util.stream.IntStream.iterate(L / 2, k -> k >= 1, k -> k / 2)
            .mapToObj(k -> VectorShuffle.fromOp(F, i -> i ^ k)).toArray(VectorShuffle[]::new);

    private SimdRows() {
    }

    /** e^x, the same arithmetic as one lane of {@link #expSub}'s vector loop. */
    static float exp(float x) {
        if (x < EXP_LO) {
            return 0f;
        }
        float xc = Math.min(x, EXP_HI);
        float t = Math.fma(xc, LOG2E, MAGIC);
        float n = t - MAGIC;
        float r = Math.fma(n, -LN2_HI, xc);
        r = Math.fma(n, -LN2_LO, r);
        float y = Math.fma(r, P0, P1);
        y = Math.fma(y, r, P2);
        y = Math.fma(y, r, P3);
        y = Math.fma(y, r, P4);
        y = Math.fma(y, r, P5);
        y = Math.fma(y, r * r, r) + 1f;
        return y * Float.intBitsToFloat((Float.floatToRawIntBits(t) - (MAGIC_BITS - 127)) << 23);
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
        return dtype == DType.F32 ? dotF32(q, qo, seg, off, d) : dotBf16(q, qo, seg, off, d);
    }

    /** acc (lane order) += p · the row at byte {@code off} of {@code seg}. */
    static void axpy(DType dtype, float p, MemorySegment seg, long off, float[] acc, int ao, int d) {
        if (dtype == DType.F32) {
            axpyF32(p, seg, off, acc, ao, d);
        } else {
            axpyBf16(p, seg, off, acc, ao, d);
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
        // the lanes' sum in a fixed pairing (lane i with lane i ^ k, k = L/2 … 1): reduceLanes(ADD) leaves the order
        // of its additions open (the interpreter adds in lane order, compiled code in a tree), so a result would
        // depend on whether the method was compiled yet; lanewise adds and rearranges are exact in either
        FloatVector v = a0.add(a1);
        for (VectorShuffle<Float> swap : HALVES) {
            v = v.add(v.rearrange(swap));
        }
        float s = v.lane(0);
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
        // the lanes' sum in a fixed pairing (lane i with lane i ^ k, k = L/2 … 1): reduceLanes(ADD) leaves the order
        // of its additions open (the interpreter adds in lane order, compiled code in a tree), so a result would
        // depend on whether the method was compiled yet; lanewise adds and rearranges are exact in either
        FloatVector v = a0.add(a1);
        for (VectorShuffle<Float> swap : HALVES) {
            v = v.add(v.rearrange(swap));
        }
        float s = v.lane(0);
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

    /** {@code x[o .. o+n) *= f}. */
    static void scale(float[] x, int o, int n, float f) {
        int c = 0;
        for (; c + L <= n; c += L) {
            FloatVector.fromArray(F, x, o + c).mul(f).intoArray(x, o + c);
        }
        for (; c < n; c++) {
            x[o + c] *= f;
        }
    }

    /** The largest of {@code x[o .. o+n)} (n ≥ 1). */
    static float max(float[] x, int o, int n) {
        int c = 0;
        float m = Float.NEGATIVE_INFINITY;
        if (n >= L) {
            FloatVector v = FloatVector.fromArray(F, x, o);
            for (c = L; c + L <= n; c += L) {
                v = v.max(FloatVector.fromArray(F, x, o + c));
            }
            m = v.reduceLanes(VectorOperators.MAX);
        }
        for (; c < n; c++) {
            m = Math.max(m, x[o + c]);
        }
        return m;
    }

    /**
     * {@code x[i] = exp(x[i] − m)} over {@code [o, o+n)} (see the class comment for the exp's range and error);
     * returns their sum. Vectors never cross a method boundary here (nor in the other methods): a vector passed to
     * or returned from a call the JIT does not inline is boxed, which costs more than the arithmetic.
     */
    static float expSub(float[] x, int o, int n, float m) {
        FloatVector sum = FloatVector.zero(F);
        int c = 0;
        for (; c + L <= n; c += L) {
            FloatVector xv = FloatVector.fromArray(F, x, o + c).sub(m);
            FloatVector xc = xv.max(EXP_LO).min(EXP_HI);
            FloatVector t = xc.fma(LOG2E, MAGIC);
            FloatVector nn = t.sub(MAGIC);
            FloatVector r = nn.fma(FloatVector.broadcast(F, -LN2_HI), xc);
            r = nn.fma(FloatVector.broadcast(F, -LN2_LO), r);
            FloatVector y = r.fma(P0, P1);
            y = y.fma(r, FloatVector.broadcast(F, P2));
            y = y.fma(r, FloatVector.broadcast(F, P3));
            y = y.fma(r, FloatVector.broadcast(F, P4));
            y = y.fma(r, FloatVector.broadcast(F, P5));
            y = y.fma(r.mul(r), r).add(1f);
            IntVector bits = t.reinterpretAsInts().sub(MAGIC_BITS - 127).lanewise(VectorOperators.LSHL, 23);
            FloatVector e = y.mul(bits.reinterpretAsFloats()).blend(0f, xv.lt(EXP_LO));
            e.intoArray(x, o + c);
            sum = sum.add(e);
        }
        for (VectorShuffle<Float> swap : HALVES) { // fixed pairing, as in the dots
            sum = sum.add(sum.rearrange(swap));
        }
        float s = sum.lane(0);
        for (; c < n; c++) {
            float e = exp(x[o + c] - m);
            x[o + c] = e;
            s += e;
        }
        return s;
    }
}
