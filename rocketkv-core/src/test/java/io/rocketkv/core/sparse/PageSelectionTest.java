package io.rocketkv.core.sparse;

import static io.rocketkv.core.sparse.PromptSelectionTest.gaussian;
import static io.rocketkv.core.sparse.PromptSelectionTest.iota;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.rocketkv.core.numeric.Fp8E5M2;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Stage 2 ({@link RocketKv#selectPages}) against the fp64 reference on seeded random inputs, plus planted cases.
 *
 * <p>Two decisions can be ambiguous between fp32 and fp64 before any score is compared: the sign of a channel sum
 * {@code Σ_h q[h,d]} within rounding of zero, and the topr channel boundary. For the first, every way of deciding
 * the ambiguous channels is scored and the selection must match one of them (counted); the second must not occur
 * in these seeds (asserted, so a change of seeds that meets one fails loudly instead of passing by luck).
 */
class PageSelectionTest {

    private static final SelectionCheck CHECK = new SelectionCheck("stage 2");
    private static final double SIGN_TOL = 1e-5;
    private static final int[] PAGE_COUNTS = {1, 2, 3, 5, 63, 64, 65, 200, 1000};
    private static final int[] TOPKS = {1, 3, 64};
    private static int ambiguousSignGroups;

    @AfterAll
    static void report() {
        System.out.printf("stage 2: %d groups had a channel sum within rounding of zero (scored both ways)%n",
                ambiguousSignGroups);
        CHECK.report();
    }

    @ParameterizedTest(name = "D={0} G={1} topr={2} seed={3}")
    @CsvSource({
            "16, 1, 16, 1", "16, 4, 16, 2", "16, 8, 16, 3", "16, 1, 8, 4", "16, 4, 8, 5", "16, 8, 1, 6",
            "16, 4, 3, 7", "64, 1, 64, 8", "64, 4, 64, 9", "64, 8, 64, 10", "64, 1, 32, 11", "64, 4, 32, 12",
            "64, 8, 5, 13", "64, 8, 1, 14", "128, 1, 128, 15", "128, 4, 128, 16", "128, 8, 128, 17",
            "128, 1, 64, 18", "128, 4, 64, 19", "128, 8, 64, 20", "128, 8, 3, 21", "128, 4, 1, 22"})
    void matchesReference(int headDim, int groupSize, int topr, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int numKvHeads = 2;
        int numHeads = numKvHeads * groupSize;
        for (int numPages : PAGE_COUNTS) {
            for (boolean integerQueries : new boolean[] {false, true}) {
                for (boolean fp8 : new boolean[] {false, true}) {
                    float[] q = integerQueries ? smallIntegers(rnd, numHeads * headDim) : gaussian(rnd,
                            numHeads * headDim, 1.0);
                    float[][] kt = keyBounds(rnd, numKvHeads * numPages, headDim, 4, fp8);
                    for (int topk : TOPKS) {
                        int[][] pages = RocketKv.selectPages(q, kt[0], kt[1], numHeads, numKvHeads, headDim,
                                numPages, topk, topr);
                        assertEquals(numKvHeads, pages.length);
                        for (int g = 0; g < numKvHeads; g++) {
                            String label = "D=" + headDim + " G=" + groupSize + " topr=" + topr + " pages="
                                    + numPages + " topk=" + topk + (integerQueries ? " intQ" : "")
                                    + (fp8 ? " e5m2" : "") + " seed=" + seed + " kvHead=" + g;
                            CHECK.check(label, pages[g], topk,
                                    referenceVariants(q, kt, numHeads, numKvHeads, headDim, numPages, topr, g, label));
                        }
                    }
                }
            }
        }
    }

    /** Reference scores of group g: one vector per way of deciding the channels whose sum is within rounding of 0. */
    private static double[][] referenceVariants(float[] q, float[][] kt, int numHeads, int numKvHeads, int headDim,
            int numPages, int topr, int g, String label) {
        int groupSize = numHeads / numKvHeads;
        if (topr < headDim) {
            double[] mass = RocketKvReference.channelMass(q, g, groupSize, headDim);
            double[] sorted = mass.clone();
            Arrays.sort(sorted);
            double last = sorted[headDim - topr];
            double next = sorted[headDim - topr - 1];
            if (last != next && last - next <= SIGN_TOL * last) {
                fail(label + ": the topr channel boundary is a near tie (" + last + " vs " + next
                        + "); pick another seed");
            }
        }
        boolean[] kept = RocketKvReference.keptChannels(q, g, groupSize, headDim, topr);
        double[] sum = RocketKvReference.channelSum(q, kept, g, groupSize, headDim);
        double[] mass = RocketKvReference.channelMass(q, g, groupSize, headDim);
        boolean[] useMax = new boolean[headDim];
        List<Integer> ambiguous = new ArrayList<>();
        for (int d = 0; d < headDim; d++) {
            useMax[d] = sum[d] > 0;
            if (kept[d] && sum[d] != 0 && Math.abs(sum[d]) <= SIGN_TOL * mass[d]) {
                ambiguous.add(d);
            }
        }
        assertTrue(ambiguous.size() <= 4, label + ": too many ambiguous channel signs " + ambiguous);
        if (!ambiguous.isEmpty()) {
            ambiguousSignGroups++;
        }
        double[][] variants = new double[1 << ambiguous.size()][];
        for (int mask = 0; mask < variants.length; mask++) {
            boolean[] choice = useMax.clone();
            for (int b = 0; b < ambiguous.size(); b++) {
                if ((mask & (1 << b)) != 0) {
                    choice[ambiguous.get(b)] ^= true;
                }
            }
            variants[mask] = RocketKvReference.stage2Scores(q, kt[0], kt[1], numHeads, numKvHeads, headDim,
                    numPages, g, kept, choice);
        }
        return variants;
    }

    @Test
    void pageHoldingAKeyAlignedWithTheQueryIsSelected() {
        int headDim = 64;
        int numHeads = 8;
        int numKvHeads = 2;
        int numPages = 300;
        SplittableRandom rnd = new SplittableRandom(11);
        float[] dir = gaussian(rnd, headDim, 1.0);
        float[] q = new float[numHeads * headDim];
        for (int h = 0; h < numHeads; h++) {
            for (int d = 0; d < headDim; d++) {
                q[h * headDim + d] = dir[d] + 0.2f * (float) rnd.nextGaussian();
            }
        }
        // Page bounds of 4 small random keys; page 123 (KV head 0) and 7 (KV head 1) also hold 1.5·dir.
        float[][] keys = new float[numKvHeads * numPages * 4][];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = gaussian(rnd, headDim, 0.3);
        }
        for (int d = 0; d < headDim; d++) {
            dir[d] *= 1.5f;
        }
        keys[123 * 4 + 2] = dir;
        keys[(numPages + 7) * 4] = dir;
        float[][] kt = bounds(keys, numKvHeads * numPages, headDim, 4);
        for (int topr : new int[] {headDim, 16}) {
            int[][] pages = RocketKv.selectPages(q, kt[0], kt[1], numHeads, numKvHeads, headDim, numPages, 1, topr);
            assertArrayEquals(new int[][] {{123}, {7}}, pages, "topr " + topr);
            int[][] three = RocketKv.selectPages(q, kt[0], kt[1], numHeads, numKvHeads, headDim, numPages, 3, topr);
            assertTrue(Arrays.binarySearch(three[0], 123) >= 0 && Arrays.binarySearch(three[1], 7) >= 0);
        }
    }

    @Test
    void equalPageScoresSelectTheLowerPage() {
        int headDim = 8;
        SplittableRandom rnd = new SplittableRandom(12);
        float[] q = gaussian(rnd, 4 * headDim, 1.0);
        float[] same = new float[2 * 10 * headDim];   // every page identical (all zero): all scores equal
        int[][] pages = RocketKv.selectPages(q, same, same, 4, 2, headDim, 10, 3, headDim);
        assertArrayEquals(new int[][] {{0, 1, 2}, {0, 1, 2}}, pages);

        // Pages 6 and 2 identical and best; 2 wins the single slot, both win two slots.
        float[] qOne = new float[headDim];
        Arrays.fill(qOne, 1f);
        float[] bounds = new float[10 * headDim];
        Arrays.fill(bounds, 6 * headDim, 7 * headDim, 1f);
        Arrays.fill(bounds, 2 * headDim, 3 * headDim, 1f);
        assertArrayEquals(new int[] {2}, RocketKv.selectPages(qOne, bounds, bounds, 1, 1, headDim, 10, 1, headDim)[0]);
        assertArrayEquals(new int[] {2, 6}, RocketKv.selectPages(qOne, bounds, bounds, 1, 1, headDim, 10, 2, headDim)[0]);
        assertArrayEquals(new int[] {0, 2, 6},
                RocketKv.selectPages(qOne, bounds, bounds, 1, 1, headDim, 10, 3, headDim)[0]);
    }

    /**
     * Channels 0, 1 and 2 have equal mass |q| = 1; with topr = 2 the lower channels 0 and 1 are kept and channel 2
     * is zeroed. Page 0 is large only on channel 2, page 1 on channels 0 and 1: keeping channel 2 instead would pick
     * page 0.
     */
    @Test
    void equalChannelMassKeepsTheLowerChannel() {
        int headDim = 8;
        float[] q = {1f, -1f, 1f, 0.5f, 0f, 0f, 0f, 0f};
        float[] page0 = {0f, 0f, 5f, 0f, 0f, 0f, 0f, 0f};
        float[] page1 = {1f, -1f, 0f, 0f, 0f, 0f, 0f, 0f};
        float[] kt = new float[2 * headDim];   // kt_min = kt_max: the sign rule plays no part here
        System.arraycopy(page0, 0, kt, 0, headDim);
        System.arraycopy(page1, 0, kt, headDim, headDim);
        assertArrayEquals(new int[] {1}, RocketKv.selectPages(q, kt, kt, 1, 1, headDim, 2, 1, 2)[0]);
        assertArrayEquals(new int[] {0}, RocketKv.selectPages(q, kt, kt, 1, 1, headDim, 2, 1, 3)[0]);
        assertArrayEquals(new int[] {0}, RocketKv.selectPages(q, kt, kt, 1, 1, headDim, 2, 1, headDim)[0]);
        // The primitive itself: masses {1, 1, 1, 0.5, 0...} -> the two lowest of the tied channels.
        float[] mass = {1f, 1f, 1f, 0.5f, 0f, 0f, 0f, 0f};
        assertArrayEquals(new int[] {0, 1}, TopK.largestAscending(mass, headDim, 2));
    }

    /**
     * The sign rule: a channel whose group sum is positive reads kt_max, otherwise (negative or exactly zero) kt_min.
     * One head, one channel: q = +1 picks the page with the largest max, q = −1 the page with the smallest min.
     */
    @Test
    void signOfTheGroupSumPicksMaxOrMin() {
        float[] ktMin = {-1f, -9f, 0f};
        float[] ktMax = {9f, 1f, 0f};
        assertArrayEquals(new int[] {0}, RocketKv.selectPages(new float[] {1f}, ktMin, ktMax, 1, 1, 1, 3, 1, 1)[0]);
        assertArrayEquals(new int[] {1}, RocketKv.selectPages(new float[] {-1f}, ktMin, ktMax, 1, 1, 1, 3, 1, 1)[0]);
        // Two heads whose q sum to exactly zero read kt_min. Head 0 q = 2, head 1 q = -2: with kt_min, page 1 scores
        // -18 / +18, page 0 -2 / +2, page 2 0 / 0; the mean softmax favours page 1 (head 1 is nearly certain of it).
        // With kt_max page 0 would win instead.
        int[] zeroSum = RocketKv.selectPages(new float[] {2f, -2f}, ktMin, ktMax, 2, 1, 1, 3, 1, 1)[0];
        double[] viaMin = RocketKvReference.stage2Scores(new float[] {2f, -2f}, ktMin, ktMax, 2, 1, 1, 3, 0,
                new boolean[] {true}, new boolean[] {false});
        double[] viaMax = RocketKvReference.stage2Scores(new float[] {2f, -2f}, ktMin, ktMax, 2, 1, 1, 3, 0,
                new boolean[] {true}, new boolean[] {true});
        assertArrayEquals(RocketKvReference.topAscending(viaMin, 1), zeroSum);
        assertTrue(!Arrays.equals(RocketKvReference.topAscending(viaMax, 1), zeroSum), "the planted case must tell");
    }

    @Test
    void topkAtLeastNumPagesReturnsEveryPageWithoutReadingTheValues() {
        float[] nan = new float[2 * 5 * 4];
        Arrays.fill(nan, Float.NaN);
        float[] q = new float[4 * 4];
        Arrays.fill(q, Float.NaN);
        assertArrayEquals(new int[][] {iota(0, 5), iota(0, 5)}, RocketKv.selectPages(q, nan, nan, 4, 2, 4, 5, 5, 4));
        assertArrayEquals(new int[][] {iota(0, 5), iota(0, 5)}, RocketKv.selectPages(q, nan, nan, 4, 2, 4, 5, 64, 2));
        float[] one = new float[3 * 4];
        assertArrayEquals(new int[][] {{0}, {0}, {0}}, RocketKv.selectPages(new float[3 * 4], one, one, 3, 3, 4, 1, 1, 4));
    }

    /** Per-page element-wise min and max of {@code tokens} random keys, optionally rounded to fp8 e5m2. */
    private static float[][] keyBounds(SplittableRandom rnd, int pages, int headDim, int tokens, boolean fp8) {
        float[][] keys = new float[pages * tokens][];
        for (int i = 0; i < keys.length; i++) {
            keys[i] = gaussian(rnd, headDim, 1.0);
        }
        float[][] kt = bounds(keys, pages, headDim, tokens);
        if (fp8) {
            for (float[] a : kt) {
                for (int i = 0; i < a.length; i++) {
                    a[i] = Fp8E5M2.decode(Fp8E5M2.encode(a[i]));
                }
            }
        }
        return kt;
    }

    private static float[][] bounds(float[][] keys, int pages, int headDim, int tokens) {
        float[] min = new float[pages * headDim];
        float[] max = new float[pages * headDim];
        Arrays.fill(min, Float.POSITIVE_INFINITY);
        Arrays.fill(max, Float.NEGATIVE_INFINITY);
        for (int p = 0; p < pages; p++) {
            for (int t = 0; t < tokens; t++) {
                float[] k = keys[p * tokens + t];
                for (int d = 0; d < headDim; d++) {
                    min[p * headDim + d] = Math.min(min[p * headDim + d], k[d]);
                    max[p * headDim + d] = Math.max(max[p * headDim + d], k[d]);
                }
            }
        }
        return new float[][] {min, max};
    }

    private static float[] smallIntegers(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = rnd.nextInt(-2, 3);
        }
        return a;
    }
}
