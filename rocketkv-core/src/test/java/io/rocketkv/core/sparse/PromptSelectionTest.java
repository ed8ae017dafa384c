package io.rocketkv.core.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Stage 1 ({@link RocketKv#selectPromptTokens}) against the fp64 reference on seeded random inputs of awkward sizes,
 * plus planted cases whose answer is known by construction.
 */
class PromptSelectionTest {

    private static final SelectionCheck CHECK = new SelectionCheck("stage 1");

    @AfterAll
    static void report() {
        CHECK.report();
    }

    /** (promptLen, numKvHeads, groupSize, headDim, windowSize, kernelSize, queryScale, seed). */
    static List<Arguments> randomCases() {
        List<Arguments> cases = new ArrayList<>();
        long seed = 1;
        for (int w : new int[] {1, 8, 32}) {
            cases.add(Arguments.of(1, 2, 4, 16, w, 7, 1.0, seed++));
        }
        int[] groups = {1, 4, 8};
        int[] dims = {16, 64, 128};
        int[] kernels = {1, 7, 63};
        int[] windows = {1, 8, 32};
        for (int len : new int[] {33, 97}) {
            for (int g : groups) {
                for (int d : dims) {
                    for (int k : kernels) {
                        for (int w : windows) {
                            cases.add(Arguments.of(len, 2, g, d, w, k, seed % 2 == 0 ? 1.0 : 3.0, seed++));
                        }
                    }
                }
            }
        }
        int i = 0;
        for (int g : groups) {
            for (int d : dims) {
                for (int k : kernels) {
                    cases.add(Arguments.of(1000, 2, g, d, windows[i++ % 3], k, seed % 2 == 0 ? 1.0 : 3.0, seed++));
                }
            }
        }
        cases.add(Arguments.of(5000, 1, 8, 128, 32, 63, 1.0, seed++));
        cases.add(Arguments.of(5000, 1, 8, 128, 32, 1, 3.0, seed++));
        cases.add(Arguments.of(5000, 2, 4, 64, 8, 7, 3.0, seed++));
        cases.add(Arguments.of(5000, 3, 1, 16, 1, 1, 1.0, seed++));
        return cases;
    }

    @ParameterizedTest(name = "L={0} Hkv={1} G={2} D={3} W={4} kernel={5} qScale={6} seed={7}")
    @MethodSource("randomCases")
    void matchesReference(int promptLen, int numKvHeads, int groupSize, int headDim, int windowSize, int kernelSize,
            double queryScale, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int numHeads = numKvHeads * groupSize;
        int w = Math.min(windowSize, promptLen);
        float[] qWin = gaussian(rnd, numHeads * w * headDim, queryScale);
        float[] keys = gaussian(rnd, numKvHeads * promptLen * headDim, 1.0);

        TreeSet<Integer> budgets = new TreeSet<>(List.of(windowSize, windowSize + 1,
                windowSize + (promptLen - windowSize) / 3, promptLen - 1, promptLen, promptLen + 9));
        budgets.removeIf(b -> b < windowSize);
        double[][] pooled = promptLen > windowSize
                ? RocketKvReference.stage1PooledScores(qWin, keys, numHeads, numKvHeads, headDim, promptLen,
                        windowSize, kernelSize)
                : null;
        for (int budget : budgets) {
            int[][] kept = RocketKv.selectPromptTokens(qWin, keys, numHeads, numKvHeads, headDim, promptLen,
                    windowSize, kernelSize, budget);
            assertEquals(numKvHeads, kept.length);
            for (int g = 0; g < numKvHeads; g++) {
                String label = "L=" + promptLen + " G=" + groupSize + " D=" + headDim + " W=" + windowSize
                        + " kernel=" + kernelSize + " B=" + budget + " seed=" + seed + " kvHead=" + g;
                if (promptLen <= budget) {
                    assertArrayEquals(iota(0, promptLen), kept[g], label);
                    continue;
                }
                assertEquals(budget, kept[g].length, label);
                int prefixKept = budget - windowSize;
                CHECK.check(label, Arrays.copyOf(kept[g], prefixKept), prefixKept, pooled[g]);
                assertArrayEquals(iota(promptLen - windowSize, promptLen),
                        Arrays.copyOfRange(kept[g], prefixKept, budget), label + ": window");
            }
        }
    }

    /**
     * One prefix key equals the common direction of every window query, so its score dominates. Max-pooling copies
     * that score exactly to the kernel's whole neighbourhood [j−31, j+31], and among those equal pooled scores the
     * lower index wins: with 32 prefix slots the kept prefix is exactly [j−31, j], which includes j; with 63 it is
     * the whole neighbourhood; with 31 the spike itself falls just outside.
     */
    @Test
    void plantedKeyAlignedWithTheWindowIsKeptWithKernel63AndATinyBudget() {
        int numHeads = 8;
        int numKvHeads = 2;
        int headDim = 64;
        int promptLen = 2000;
        int windowSize = 8;
        int spike = 1234;
        SplittableRandom rnd = new SplittableRandom(42);
        float[] dir = gaussian(rnd, headDim, 1.0);
        float[] qWin = new float[numHeads * windowSize * headDim];
        for (int r = 0; r < numHeads * windowSize; r++) {
            for (int d = 0; d < headDim; d++) {
                qWin[r * headDim + d] = dir[d] + 0.1f * (float) rnd.nextGaussian();
            }
        }
        float[] keys = gaussian(rnd, numKvHeads * promptLen * headDim, 0.1);
        for (int g = 0; g < numKvHeads; g++) {
            for (int d = 0; d < headDim; d++) {
                keys[(g * promptLen + spike) * headDim + d] = 2 * dir[d];
            }
        }
        int[][] kept32 = RocketKv.selectPromptTokens(qWin, keys, numHeads, numKvHeads, headDim, promptLen,
                windowSize, 63, windowSize + 32);
        int[][] kept63 = RocketKv.selectPromptTokens(qWin, keys, numHeads, numKvHeads, headDim, promptLen,
                windowSize, 63, windowSize + 63);
        int[][] kept31 = RocketKv.selectPromptTokens(qWin, keys, numHeads, numKvHeads, headDim, promptLen,
                windowSize, 63, windowSize + 31);
        int[][] keptKernel1 = RocketKv.selectPromptTokens(qWin, keys, numHeads, numKvHeads, headDim, promptLen,
                windowSize, 1, windowSize + 1);
        int[] window = iota(promptLen - windowSize, promptLen);
        for (int g = 0; g < numKvHeads; g++) {
            assertArrayEquals(concat(iota(spike - 31, spike + 1), window), kept32[g]);
            assertArrayEquals(concat(iota(spike - 31, spike + 32), window), kept63[g]);
            assertArrayEquals(concat(iota(spike - 31, spike), window), kept31[g]);
            assertArrayEquals(concat(new int[] {spike}, window), keptKernel1[g]);
        }
    }

    /** At the ends the −∞ padding shortens the neighbourhood: a spike at 0 or at L−W−1 pools over 32 slots. */
    @Test
    void plantedSpikeAtThePrefixEdgesPoolsOverTheClippedNeighbourhood() {
        int headDim = 16;
        int promptLen = 300;
        int windowSize = 4;
        int prefix = promptLen - windowSize;
        for (int spike : new int[] {0, 5, prefix - 1}) {
            float[] qWin = new float[windowSize * headDim];
            Arrays.fill(qWin, 1f);
            float[] keys = new float[promptLen * headDim];
            Arrays.fill(keys, spike * headDim, (spike + 1) * headDim, 1f);
            int[][] kept = RocketKv.selectPromptTokens(qWin, keys, 1, 1, headDim, promptLen, windowSize, 63,
                    windowSize + 40);
            int lo = Math.max(0, spike - 31);
            int hi = Math.min(prefix - 1, spike + 31);
            TreeSet<Integer> expected = new TreeSet<>();
            for (int j = lo; j <= hi; j++) {
                expected.add(j);
            }
            // The rest of the 40 come from the flat background (all equal): lowest indices outside the plateau.
            for (int j = 0; expected.size() < 40; j++) {
                expected.add(j);
            }
            int[] prefixKept = expected.stream().mapToInt(Integer::intValue).toArray();
            assertArrayEquals(concat(prefixKept, iota(prefix, promptLen)), kept[0], "spike at " + spike);
        }
    }

    @Test
    void equalPooledScoresKeepTheLowerIndex() {
        int headDim = 8;
        int promptLen = 100;
        int windowSize = 2;
        // All keys zero: every score is 1/98 per query; the lowest indices win.
        float[] qWin = gaussian(new SplittableRandom(3), 2 * windowSize * headDim, 1.0);
        float[] keys = new float[promptLen * headDim];
        int[][] kept = RocketKv.selectPromptTokens(qWin, keys, 2, 1, headDim, promptLen, windowSize, 7, 12);
        assertArrayEquals(concat(iota(0, 10), iota(98, 100)), kept[0]);

        // Two identical spikes far apart: equal plateaus of width 7; the first plateau wins entirely.
        float[] q1 = new float[windowSize * headDim];
        Arrays.fill(q1, 1f);
        float[] k1 = new float[promptLen * headDim];
        Arrays.fill(k1, 20 * headDim, 21 * headDim, 1f);
        Arrays.fill(k1, 70 * headDim, 71 * headDim, 1f);
        int[][] kept7 = RocketKv.selectPromptTokens(q1, k1, 1, 1, headDim, promptLen, windowSize, 7, windowSize + 7);
        assertArrayEquals(concat(iota(17, 24), iota(98, 100)), kept7[0]);
        int[][] kept9 = RocketKv.selectPromptTokens(q1, k1, 1, 1, headDim, promptLen, windowSize, 7, windowSize + 9);
        assertArrayEquals(concat(concat(iota(17, 24), new int[] {67, 68}), iota(98, 100)), kept9[0]);
        int[][] kernel1 = RocketKv.selectPromptTokens(q1, k1, 1, 1, headDim, promptLen, windowSize, 1, windowSize + 1);
        assertArrayEquals(new int[] {20, 98, 99}, kernel1[0]);
    }

    @Test
    void promptWithinBudgetKeepsEverythingWithoutReadingTheValues() {
        float[] nan = new float[2 * 3 * 4];
        Arrays.fill(nan, Float.NaN);
        // L = 3 < W = 8: the window is the whole prompt, qWindow holds min(W, L) = 3 rows per head.
        int[][] kept = RocketKv.selectPromptTokens(nan, Arrays.copyOf(nan, 3 * 4), 2, 1, 4, 3, 8, 63, 8);
        assertArrayEquals(new int[][] {{0, 1, 2}}, kept);
        float[] q = new float[4 * 8 * 16];
        float[] k = new float[2 * 64 * 16];
        int[][] exact = RocketKv.selectPromptTokens(q, k, 4, 2, 16, 64, 8, 7, 64);
        assertArrayEquals(new int[][] {iota(0, 64), iota(0, 64)}, exact);
    }

    @Test
    void budgetEqualToWindowKeepsOnlyTheWindow() {
        SplittableRandom rnd = new SplittableRandom(5);
        int[][] kept = RocketKv.selectPromptTokens(gaussian(rnd, 4 * 8 * 16, 1), gaussian(rnd, 2 * 50 * 16, 1), 4, 2,
                16, 50, 8, 7, 8);
        assertArrayEquals(new int[][] {iota(42, 50), iota(42, 50)}, kept);
    }

    @Test
    void differentKvHeadsKeepDifferentTokens() {
        int headDim = 4;
        int promptLen = 40;
        int windowSize = 2;
        float[] qWin = new float[2 * windowSize * headDim];
        Arrays.fill(qWin, 1f);
        float[] keys = new float[2 * promptLen * headDim];
        Arrays.fill(keys, 10 * headDim, 11 * headDim, 1f);                       // KV head 0: token 10
        Arrays.fill(keys, (promptLen + 30) * headDim, (promptLen + 31) * headDim, 1f);   // KV head 1: token 30
        int[][] kept = RocketKv.selectPromptTokens(qWin, keys, 2, 2, headDim, promptLen, windowSize, 1, 3);
        assertArrayEquals(new int[][] {{10, 38, 39}, {30, 38, 39}}, kept);
    }

    static float[] gaussian(SplittableRandom rnd, int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (scale * rnd.nextGaussian());
        }
        return a;
    }

    static int[] iota(int from, int to) {
        int[] r = new int[to - from];
        for (int i = 0; i < r.length; i++) {
            r[i] = from + i;
        }
        return r;
    }

    static int[] concat(int[] a, int[] b) {
        int[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }
}
