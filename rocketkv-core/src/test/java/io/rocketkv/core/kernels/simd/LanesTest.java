package io.rocketkv.core.kernels.simd;

import static io.rocketkv.core.kernels.simd.WeightVectors.F;
import static io.rocketkv.core.kernels.simd.WeightVectors.L;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

/** {@link Lanes} against their definitions: the pairwise tree written with scalar floats, and Math.exp. */
class LanesTest {

    @Test
    void sumIsTheFixedPairwiseTree() {
        SplittableRandom rnd = new SplittableRandom(5);
        float[] a = new float[L];
        for (int round = 0; round < 1000; round++) {
            for (int i = 0; i < L; i++) {
                a[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(-3, 4)));
            }
            float[] t = a.clone();
            for (int s = L / 2; s >= 1; s /= 2) { // lane i += lane i xor s
                float[] u = new float[L];
                for (int i = 0; i < L; i++) {
                    u[i] = t[i] + t[i ^ s];
                }
                t = u;
            }
            assertEquals(Float.floatToRawIntBits(t[0]), Float.floatToRawIntBits(Lanes.sum(FloatVector.fromArray(F, a, 0))));
        }
    }

    /**
     * Every 4099th float of the range (about 5·10⁵ values, both signs, the smallest magnitudes included; the
     * javadoc's 1.02 ulp comes from a far denser sweep), each within 2 ulp of {@link Math#exp}, and the scalar twin
     * equal to the lanes bit for bit.
     */
    @Test
    void expIsWithinTwoUlpsOfMathExpAndItsScalarTwinEqualsItsLanes() {
        int pos = Float.floatToRawIntBits(Lanes.EXP_HI);
        int neg = Float.floatToRawIntBits(-Lanes.EXP_LO);
        int step = 4099;
        int n = (pos / step + 1) + (neg / step + 1) + 1;
        float[] x = new float[(n + L - 1) / L * L];
        int k = 0;
        for (int b = 0; b <= pos; b += step) {
            x[k++] = Float.intBitsToFloat(b);
        }
        for (int b = 0; b <= neg; b += step) {
            x[k++] = -Float.intBitsToFloat(b);
        }
        x[k++] = Lanes.EXP_HI;
        float[] got = new float[x.length];
        for (int i = 0; i < x.length; i += L) {
            Lanes.exp(FloatVector.fromArray(F, x, i)).intoArray(got, i);
        }
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            float want = (float) Math.exp(x[i]);
            double ulps = Math.abs(got[i] - Math.exp(x[i])) / Math.ulp(want);
            worst = Math.max(worst, ulps);
            if (ulps > 2 || Float.floatToRawIntBits(got[i]) != Float.floatToRawIntBits(Lanes.exp(x[i]))) {
                fail("exp(" + x[i] + ") = " + got[i] + " (scalar twin " + Lanes.exp(x[i]) + "), want " + want);
            }
        }
        System.out.printf("exp: largest error against Math.exp %.3f ulp over %d values (%d lanes)%n", worst, x.length, L);
    }

    @Test
    void expIsZeroBelowItsRangeInfiniteAboveAndNaNForNaN() {
        float[] x = {Float.NEGATIVE_INFINITY, -100f, Math.nextDown(Lanes.EXP_LO), 0f, Math.nextUp(Lanes.EXP_HI), 100f,
            Float.POSITIVE_INFINITY, Float.NaN};
        float[] want = {0f, 0f, 0f, 1f, Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY, Float.POSITIVE_INFINITY,
            Float.NaN};
        float[] lanes = new float[L];
        float[] got = new float[L];
        for (int i = 0; i < x.length; i++) {
            java.util.Arrays.fill(lanes, x[i]);
            Lanes.exp(FloatVector.fromArray(F, lanes, 0)).intoArray(got, 0);
            assertEquals(want[i], got[0], "exp(" + x[i] + ")");
            assertEquals(want[i], Lanes.exp(x[i]), "scalar exp(" + x[i] + ")");
        }
    }
}
