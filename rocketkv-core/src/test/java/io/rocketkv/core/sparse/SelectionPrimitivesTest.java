package io.rocketkv.core.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link TopK} and {@link WindowScores#maxPool} against naive versions, on inputs full of exact ties. */
class SelectionPrimitivesTest {

    @Test
    void topKMatchesAFullSortWithTheLowerIndexTieRule() {
        SplittableRandom rnd = new SplittableRandom(7);
        for (int trial = 0; trial < 2000; trial++) {
            int n = 1 + rnd.nextInt(trial < 1000 ? 20 : 400);
            int distinct = 1 + rnd.nextInt(6);   // few distinct values: ties everywhere
            float[] v = new float[n];
            double[] vd = new double[n];
            for (int i = 0; i < n; i++) {
                v[i] = rnd.nextBoolean() ? rnd.nextInt(distinct) : (float) rnd.nextGaussian();
                vd[i] = v[i];
            }
            int k = rnd.nextInt(n + 3);
            assertArrayEquals(RocketKvReference.topAscending(vd, k), TopK.largestAscending(v, n, k),
                    "n=" + n + " k=" + k);
        }
    }

    @Test
    void topKOfConstantValuesIsThePrefix() {
        float[] v = new float[100];
        assertArrayEquals(PromptSelectionTest.iota(0, 37), TopK.largestAscending(v, 100, 37));
        assertArrayEquals(new int[0], TopK.largestAscending(v, 100, 0));
        assertArrayEquals(PromptSelectionTest.iota(0, 100), TopK.largestAscending(v, 100, 100));
        assertArrayEquals(new int[] {0, 1}, TopK.largestAscending(new float[] {-0f, 0f, 0f}, 3, 2));
    }

    @Test
    void maxPoolMatchesTheNaiveWindowMax() {
        SplittableRandom rnd = new SplittableRandom(8);
        for (int trial = 0; trial < 1000; trial++) {
            int n = 1 + rnd.nextInt(300);
            int kernel = 2 * rnd.nextInt(40) + 1;
            int r = kernel / 2;
            float[] in = new float[n];
            for (int i = 0; i < n; i++) {
                in[i] = rnd.nextBoolean() ? rnd.nextInt(4) : (float) rnd.nextGaussian();
            }
            float[] expected = new float[n];
            for (int j = 0; j < n; j++) {
                float m = Float.NEGATIVE_INFINITY;
                for (int t = Math.max(0, j - r); t <= Math.min(n - 1, j + r); t++) {
                    m = Math.max(m, in[t]);
                }
                expected[j] = m;
            }
            float[] out = new float[n];
            WindowScores.maxPool(in, n, r, out, new int[n]);
            assertArrayEquals(expected, out, "n=" + n + " kernel=" + kernel);
        }
    }
}
