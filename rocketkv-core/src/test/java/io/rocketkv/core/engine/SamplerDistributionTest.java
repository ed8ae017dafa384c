package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * 200k seeded draws from a fixed small logits vector against the exact renormalised probabilities computed
 * independently ({@link SamplerReference}): every frequency within 0.005, and a chi-square statistic below the
 * 0.999 quantile for the degrees of freedom.
 */
class SamplerDistributionTest {

    private static final int DRAWS = 200_000;
    // Ranks: 0 (2.0), 1 & 7 (1.5, tied), 2 (1.4), 9 (0.9), 3 & 4 (0.3, tied), 5, 6, 8.
    private static final float[] LOGITS = {2.0f, 1.5f, 1.4f, 0.3f, 0.3f, -0.5f, -1.0f, 1.5f, -3.0f, 0.9f};

    @ParameterizedTest(name = "T={0} topK={1} topP={2} keeps {3}")
    @CsvSource({
        "0.7,  5, 0.9,  4",   // the combination: top-5 then the 0.9 nucleus of those five (4 tokens)
        "1.0,  0, 1.0, 10",   // plain softmax, no ranking
        "1.3,  0, 0.8,  5",   // top-p alone (cumulative 0.7075 after 4, 0.8089 after 5)
        "0.5,  3, 1.0,  3",   // top-k alone, the tie 1/7 inside the kept set
        "2.0,  6, 1.0,  6",   // top-k boundary splits the tie 3/4: 3 is kept, 4 is not
    })
    void empiricalFrequenciesMatchExactProbabilities(double t, int k, double p, int expectedKept) {
        double[] exact = SamplerReference.probabilities(LOGITS, t, k, p);
        Sampler sampler = new Sampler(SamplingOptions.builder().temperature(t).topK(k).topP(p).seed(20240501L).build());
        assertEquals(expectedKept, sampler.keptTokenIds(LOGITS, LOGITS.length).length);
        assertArrayEquals(SamplerReference.kept(LOGITS, t, k, p), sampler.keptTokenIds(LOGITS, LOGITS.length));

        int[] counts = new int[LOGITS.length];
        for (int i = 0; i < DRAWS; i++) {
            counts[sampler.sample(LOGITS, LOGITS.length).tokenId()]++;
        }
        double chi2 = 0;
        int kept = 0;
        for (int id = 0; id < LOGITS.length; id++) {
            double freq = counts[id] / (double) DRAWS;
            assertEquals(exact[id], freq, 0.005, "token " + id);
            if (exact[id] == 0) {
                assertEquals(0, counts[id], "token " + id + " was filtered out but drawn");
            } else {
                double e = exact[id] * DRAWS;
                chi2 += (counts[id] - e) * (counts[id] - e) / e;
                kept++;
            }
        }
        assertTrue(chi2 < CHI2_999[kept - 1], "chi-square " + chi2 + " with " + (kept - 1) + " degrees of freedom");
    }

    // 0.999 quantiles of the chi-square distribution for 0..9 degrees of freedom.
    private static final double[] CHI2_999 = {1e-9, 10.828, 13.816, 16.266, 18.467, 20.515, 22.458, 24.322, 26.124,
            27.877};
}
