package io.rocketkv.core.sparse;

import static io.rocketkv.core.sparse.PromptSelectionTest.gaussian;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fp32 scores themselves against the fp64 reference. This is what makes the near-tie rule of
 * {@link SelectionCheck} sound: if every production score is within relative error e of the reference, a selection
 * can only differ from the reference's where two reference scores are within about 2e of each other, and
 * {@link SelectionCheck#REL_TOL} (2e-5) is 2 · {@link #MAX_REL_ERROR}.
 */
class ScoreAccuracyTest {

    /**
     * Bound asserted on every score; the observed maximum is printed. The error is that of the fp32 logits
     * (absolute error of a D-term fp32 dot product, a few 1e-6 for |logit| up to about 20), which becomes the
     * relative error of the probability; it is inherent in fp32 scoring, as in PyTorch.
     */
    private static final double MAX_REL_ERROR = 1e-5;

    @ParameterizedTest(name = "L={0} G={1} D={2} W={3} kernel={4} qScale={5}")
    @CsvSource({"97, 8, 128, 32, 1, 1.0", "1000, 4, 64, 8, 7, 3.0", "5000, 8, 128, 32, 1, 3.0",
            "5000, 1, 16, 1, 63, 1.0", "3000, 8, 128, 32, 63, 5.0"})
    void promptScoresAreWithinFp32Error(int promptLen, int groupSize, int headDim, int windowSize, int kernelSize,
            double queryScale) {
        SplittableRandom rnd = new SplittableRandom(promptLen * 31L + headDim);
        float[] qWin = gaussian(rnd, groupSize * windowSize * headDim, queryScale);
        float[] keys = gaussian(rnd, promptLen * headDim, 1.0);
        double[] ref = RocketKvReference.stage1PooledScores(qWin, keys, groupSize, 1, headDim, promptLen, windowSize,
                kernelSize)[0];
        float[] pooled = new float[promptLen - windowSize];
        new WindowScores(groupSize, headDim, promptLen, windowSize).pooled(qWin, keys, 0, kernelSize, pooled);
        double worst = 0;
        for (int j = 0; j < pooled.length; j++) {
            worst = Math.max(worst, Math.abs(pooled[j] - ref[j]) / ref[j]);
        }
        System.out.printf("stage 1 L=%d G=%d D=%d W=%d: max relative score error %.2e%n", promptLen, groupSize,
                headDim, windowSize, worst);
        assertTrue(worst <= MAX_REL_ERROR, "max relative error " + worst);
    }

    @ParameterizedTest(name = "pages={0} G={1} D={2} topr={3}")
    @CsvSource({"1000, 8, 128, 128", "65, 4, 64, 32", "5000, 1, 16, 16", "512, 8, 128, 3"})
    void pageScoresAreWithinFp32Error(int numPages, int groupSize, int headDim, int topr) {
        SplittableRandom rnd = new SplittableRandom(numPages * 17L + topr);
        float[] q = gaussian(rnd, groupSize * headDim, 1.0);
        float[] ktMin = gaussian(rnd, numPages * headDim, 1.0);
        float[] ktMax = ktMin.clone();
        for (int i = 0; i < ktMax.length; i++) {
            ktMax[i] += (float) Math.abs(2 * rnd.nextGaussian());
        }
        boolean[] kept = RocketKvReference.keptChannels(q, 0, groupSize, headDim, topr);
        double[] sum = RocketKvReference.channelSum(q, kept, 0, groupSize, headDim);
        boolean[] useMax = new boolean[headDim];
        for (int d = 0; d < headDim; d++) {
            useMax[d] = sum[d] > 0;
        }
        double[] ref = RocketKvReference.stage2Scores(q, ktMin, ktMax, groupSize, 1, headDim, numPages, 0, kept,
                useMax);
        float[] scores = new PageScores(groupSize, headDim, numPages).scores(q, ktMin, ktMax, 0, topr);
        double worst = 0;
        for (int p = 0; p < numPages; p++) {
            worst = Math.max(worst, Math.abs(scores[p] - ref[p]) / ref[p]);
        }
        System.out.printf("stage 2 pages=%d G=%d D=%d topr=%d: max relative score error %.2e%n", numPages,
                groupSize, headDim, topr, worst);
        assertTrue(worst <= MAX_REL_ERROR, "max relative error " + worst);
    }
}
