package io.rocketkv.core.kernels.simd;

import static io.rocketkv.core.kernels.simd.WeightVectors.F;
import static io.rocketkv.core.kernels.simd.WeightVectors.L;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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

    @Test
    void expIsWithinTwoUlpsOfMathExp() {
        float[] x = new float[L];
        float[] got = new float[L];
        for (float v = -87f; v <= 88f; ) {
            for (int i = 0; i < L; i++, v += 0.0137f) {
                x[i] = v;
            }
            Lanes.exp(FloatVector.fromArray(F, x, 0)).intoArray(got, 0);
            for (int i = 0; i < L; i++) {
                float want = (float) Math.exp(x[i]);
                assertTrue(Math.abs(got[i] - want) <= 2 * Math.ulp(want), "exp(" + x[i] + ") = " + got[i] + ", want " + want);
            }
        }
        x[0] = 100f;
        x[1] = -100f;
        Lanes.exp(FloatVector.fromArray(F, x, 0)).intoArray(got, 0);
        assertEquals(Float.POSITIVE_INFINITY, got[0]);
        assertTrue(got[1] >= 0 && got[1] < 1e-37f, "exp(-100) = " + got[1]);
    }
}
