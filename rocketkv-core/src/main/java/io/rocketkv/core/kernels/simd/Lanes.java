package io.rocketkv.core.kernels.simd;

import static io.rocketkv.core.kernels.simd.WeightVectors.F;
import static io.rocketkv.core.kernels.simd.WeightVectors.L;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * The CPU backend's one lane sum and one exp, built from lane-wise IEEE operations only (add, multiply, FMA,
 * shuffles, integer bit operations), so that they give the same bits whether the JIT has compiled them or not: the
 * Vector API's own {@code reduceLanes(ADD)} and {@code EXP} may sum in another order, or call another exp, once
 * compiled than before, which would make a token's logits depend on how warm the JVM was.
 *
 * <p>Each method is small and static, so C2 inlines it into the loop that calls it and its vectors stay in
 * registers (a vector passed to or returned from a call that is not inlined is boxed, which costs more than the
 * arithmetic).
 */
final class Lanes {

    private static final VectorShuffle<Float> XOR32 = VectorShuffle.fromOp(F, i -> L > 32 ? i ^ 32 : i);
    private static final VectorShuffle<Float> XOR16 = VectorShuffle.fromOp(F, i -> L > 16 ? i ^ 16 : i);
    private static final VectorShuffle<Float> XOR8 = VectorShuffle.fromOp(F, i -> L > 8 ? i ^ 8 : i);
    private static final VectorShuffle<Float> XOR4 = VectorShuffle.fromOp(F, i -> L > 4 ? i ^ 4 : i);
    private static final VectorShuffle<Float> XOR2 = VectorShuffle.fromOp(F, i -> L > 2 ? i ^ 2 : i);
    private static final VectorShuffle<Float> XOR1 = VectorShuffle.fromOp(F, i -> L > 1 ? i ^ 1 : i);

    /** Below it e^x is subnormal in fp32 (2^n would leave the normal range): exp gives 0. */
    static final float EXP_LO = -87.336f;
    /** Above it 2^n overflows (n = 128): exp gives +∞ (the exact e^x overflows fp32 from 88.7228). */
    static final float EXP_HI = 88.37f;
    private static final float LOG2E = 1.44269504088896341f;
    private static final float ROUND = 0x1.8p23f; // adding it rounds |t| < 2^22 to an integer
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    private static final float P0 = 1.9875691500e-4f;
    private static final float P1 = 1.3981999507e-3f;
    private static final float P2 = 8.3334519073e-3f;
    private static final float P3 = 4.1665795894e-2f;
    private static final float P4 = 1.6666665459e-1f;
    private static final float P5 = 5.0000001201e-1f;

    private Lanes() {
    }

    /**
     * The sum of the lanes, as a fixed pairwise tree: lane i plus lane i xor L/2, then xor L/4, …, xor 1 (for any
     * power-of-two L up to 64). The same tree whatever the JIT did, so a row's sum does not depend on when it ran.
     */
    static float sum(FloatVector v) {
        if (L > 32) {
            v = v.add(v.rearrange(XOR32));
        }
        if (L > 16) {
            v = v.add(v.rearrange(XOR16));
        }
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
     * e^x lane-wise (Cephes' expf): {@code x = n·ln2 + r} (Cody–Waite split of ln2, |r| ≤ ln2/2), a degree-6
     * polynomial for e^r, times 2^n built in the exponent bits. Error: within 1.02 ulp (8.5·10⁻⁸ relative) of the
     * exact e^x over [{@value #EXP_LO}, {@value #EXP_HI}] (measured against {@link Math#exp} on every float of the
     * range with |x| ≥ 10⁻³ and every 256th below; {@code LanesTest} bounds it at 2 ulp); 0 below that range (−∞
     * included), +∞ above it, NaN for NaN. {@link #exp(float)} is the same arithmetic on one value.
     */
    static FloatVector exp(FloatVector x) {
        FloatVector t = x.fma(LOG2E, ROUND);
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(FloatVector.broadcast(F, -LN2_HI), x);
        r = n.fma(FloatVector.broadcast(F, -LN2_LO), r);
        FloatVector y = r.fma(P0, P1);
        y = y.fma(r, FloatVector.broadcast(F, P2));
        y = y.fma(r, FloatVector.broadcast(F, P3));
        y = y.fma(r, FloatVector.broadcast(F, P4));
        y = y.fma(r, FloatVector.broadcast(F, P5));
        y = y.fma(r.mul(r), r).add(1f);
        IntVector bits = t.reinterpretAsInts().sub(ROUND_BITS - 127).lanewise(VectorOperators.LSHL, 23);
        // lanes outside the range computed garbage exponent bits: they are replaced, so x needs no clamp
        return y.mul(bits.reinterpretAsFloats()).blend(0f, x.lt(EXP_LO)).blend(Float.POSITIVE_INFINITY, x.compare(VectorOperators.GT, EXP_HI));
    }

    /** e^x by the arithmetic of one lane of {@link #exp(FloatVector)}: the same bits (tails, single values). */
    static float exp(float x) {
        if (x < EXP_LO) {
            return 0f;
        }
        if (x > EXP_HI) {
            return Float.POSITIVE_INFINITY;
        }
        float t = Math.fma(x, LOG2E, ROUND);
        float n = t - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float y = Math.fma(r, P0, P1);
        y = Math.fma(y, r, P2);
        y = Math.fma(y, r, P3);
        y = Math.fma(y, r, P4);
        y = Math.fma(y, r, P5);
        y = Math.fma(y, r * r, r) + 1f;
        return y * Float.intBitsToFloat((Float.floatToRawIntBits(t) - (ROUND_BITS - 127)) << 23);
    }
}
