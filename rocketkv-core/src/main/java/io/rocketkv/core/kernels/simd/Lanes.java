package io.rocketkv.core.kernels.simd;

import static io.rocketkv.core.kernels.simd.WeightVectors.F;
import static io.rocketkv.core.kernels.simd.WeightVectors.L;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * Lane reductions and exp built from lane-wise IEEE operations only (add, multiply, FMA, shuffles, integer bit
 * operations), so that they give the same bits whether the JIT has compiled them or not: the Vector API's own
 * {@code reduceLanes(ADD)} and {@code EXP} may sum in another order, or call another exp, once compiled than
 * before, which would make a token's logits depend on how warm the JVM was.
 */
final class Lanes {

    private static final VectorShuffle<Float> XOR8 = VectorShuffle.fromOp(F, i -> L > 8 ? i ^ 8 : i);
    private static final VectorShuffle<Float> XOR4 = VectorShuffle.fromOp(F, i -> L > 4 ? i ^ 4 : i);
    private static final VectorShuffle<Float> XOR2 = VectorShuffle.fromOp(F, i -> L > 2 ? i ^ 2 : i);
    private static final VectorShuffle<Float> XOR1 = VectorShuffle.fromOp(F, i -> L > 1 ? i ^ 1 : i);

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float ROUND = 0x1.8p23f; // adding it rounds |t| < 2^22 to an integer
    private static final float EXP_MIN = -87.3f;  // 2^n stays a normal fp32 down to here
    private static final float EXP_MAX = 88.3f;   // and up to here; above, exp is +inf

    private Lanes() {
    }

    /** The sum of the lanes, as a fixed pairwise tree (lane i with lane i xor L/2, then xor L/4, …). */
    static float sum(FloatVector v) {
        if (L > 8) {
            v = v.add(v.rearrange(XOR8));
        }
        if (L > 4) {
            v = v.add(v.rearrange(XOR4));
        }
        if (L > 2) {
            v = v.add(v.rearrange(XOR2));
        }
        if (L > 1) {
            v = v.add(v.rearrange(XOR1));
        }
        return v.lane(0);
    }

    /**
     * e^x lane-wise within 2 ulp (Cephes' expf): x = n·ln2 + r, |r| ≤ ln2/2, e^r by a degree-6 polynomial, times
     * 2^n built in the exponent bits; 0-ish below −87.3, +inf above 88.3 (NaN lanes give NaN).
     */
    static FloatVector exp(FloatVector x) {
        VectorMask<Float> over = x.compare(VectorOperators.GT, EXP_MAX);
        FloatVector xc = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector t = xc.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, ROUND));
        FloatVector n = t.sub(ROUND);
        IntVector ni = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUND));
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), xc);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector p = FloatVector.broadcast(F, 1.9875691500e-4f);
        p = p.fma(r, FloatVector.broadcast(F, 1.3981999507e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(F, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(F, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(F, 5.0000001201e-1f));
        FloatVector e = p.mul(r).fma(r, r).add(1f);
        FloatVector scale = ni.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats();
        return e.mul(scale).blend(Float.POSITIVE_INFINITY, over);
    }
}
