package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SamplerTest {

    /** Options seeded with 1; the kept set does not depend on the seed. */
    private static SamplingOptions.Builder seed1() {
        return SamplingOptions.builder().seed(1L);
    }

    private static int[] kept(SamplingOptions.Builder options, float[] logits) {
        return new Sampler(options.build()).keptTokenIds(logits, logits.length);
    }

    private static float[] randomLogits(long seed, int v, double scale) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[v];
        for (int i = 0; i < v; i++) {
            x[i] = (float) (scale * (r.nextDouble() * 2 - 1));
        }
        return x;
    }

    @Test
    void greedyIsArgmaxWithTiesToLowestId() {
        Sampler s = new Sampler(SamplingOptions.GREEDY);
        assertEquals(2, s.sample(new float[] {0.1f, 2f, 3f, -1f}, 4).tokenId());
        assertEquals(1, s.sample(new float[] {0.1f, 3f, 3f, 3f}, 4).tokenId());
        assertEquals(0, s.sample(new float[] {-0.0f, 0.0f, -1f}, 3).tokenId());
        assertEquals(0, s.sample(new float[] {5f, 5f}, 2).tokenId());
        // vocabSize ignores padding past the vocabulary; offset picks a row of a (batch, vocab) buffer.
        assertEquals(1, s.sample(new float[] {0f, 1f, 9f}, 2).tokenId());
        assertEquals(1, s.sample(new float[] {9f, 9f, 9f, 1f, 4f, 4f}, 3, 3).tokenId());
        float[] big = randomLogits(11, 152_064, 10);
        int expected = SamplerReference.rankOrder(big)[0];
        assertEquals(expected, s.sample(big, big.length).tokenId());
    }

    @Test
    void temperaturesTooSmallToDivideByAreGreedy() {
        // the argmax is not token 0: at T = 5e-324, 1/T overflows and sampling would fall back to token 0
        float[] logits = randomLogits(5, 1000, 3);
        int argmax = SamplerReference.rankOrder(logits)[0];
        assertNotEquals(0, argmax);
        for (double t : new double[] {Double.MIN_VALUE, 1e-300, 1e-10, 9.99e-6}) {
            SamplingOptions o = SamplingOptions.builder().temperature(t).seed(7L).build();
            assertTrue(o.isGreedy(), "T = " + t);
            Sampler s = new Sampler(o);
            for (int i = 0; i < 20; i++) {
                assertEquals(argmax, s.sample(logits, logits.length).tokenId(), "T = " + t);
            }
        }
        assertTrue(!SamplingOptions.builder().temperature(SamplingOptions.GREEDY_BELOW_TEMPERATURE).seed(7L).build().isGreedy(),
                "1e-5 itself samples");
    }

    @Test
    void sameSeedSameTokensDifferentSeedsDiffer() {
        float[] logits = randomLogits(3, 50, 2);
        SamplingOptions o = SamplingOptions.builder().temperature(1.0).topP(0.95).seed(1234L).build();
        int[] a = draws(new Sampler(o), logits, 1000);
        int[] b = draws(new Sampler(o), logits, 1000);
        int[] c = draws(new Sampler(o.withSeed(1235L)), logits, 1000);
        assertArrayEquals(a, b);
        assertNotEquals(Arrays.toString(a), Arrays.toString(c));
        assertEquals(1234L, new Sampler(o).seed());
        // Without a seed each request draws its own; replaying with the reported seed reproduces it.
        Sampler unseeded = new Sampler(o.withSeed(null));
        int[] d = draws(unseeded, logits, 1000);
        assertArrayEquals(d, draws(new Sampler(o.withSeed(unseeded.seed())), logits, 1000));
    }

    private static int[] draws(Sampler s, float[] logits, int n) {
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = s.sample(logits, logits.length).tokenId();
        }
        return out;
    }

    @Test
    void topKKeepsLowestIdsAtABoundaryTie() {
        float[] logits = {1f, 3f, 3f, 3f, 0f, 3.5f};
        assertArrayEquals(new int[] {5, 1}, kept(seed1().topK(2), logits));
        assertArrayEquals(new int[] {5, 1, 2}, kept(seed1().topK(3), logits));
        assertArrayEquals(new int[] {5, 1, 2, 3, 0, 4}, kept(seed1().topK(6), logits));
        assertArrayEquals(new int[] {5, 1, 2, 3, 0, 4}, kept(seed1().topK(99), logits));
    }

    @Test
    void topPEdgeCases() {
        float[] logits = {0.5f, 2f, 2f, -1f, 1f};
        // p = 1 keeps everything.
        assertEquals(5, kept(seed1(), logits).length);
        assertEquals(5, kept(seed1().topK(0), logits).length);
        // A tiny p keeps only the best token (the lower id of the tied pair), and always at least one.
        Sampler tiny = new Sampler(seed1().topP(1e-9).build());
        assertArrayEquals(new int[] {1}, tiny.keptTokenIds(logits, 5));
        for (int i = 0; i < 1000; i++) {
            assertEquals(1, tiny.sample(logits, 5).tokenId());
        }
        // p just above the top token's probability needs the second one too.
        double top = Math.exp(SamplerReference.logSoftmax(logits)[1]);
        assertArrayEquals(new int[] {1, 2}, kept(seed1().topP(top + 1e-6), logits));
        assertArrayEquals(new int[] {1}, kept(seed1().topP(top - 1e-6), logits));
    }

    @Test
    void keptSetsMatchTheReferenceOnALargeVocabulary() {
        // Wide logits: nuclei from a handful of tokens to tens of thousands, so the sampler's 64 → 512 → 4096 →
        // ... growth and its full sort are all exercised.
        for (double scale : new double[] {40, 8}) {
            float[] logits = randomLogits(17, 152_064, scale);
            logits[1000] = Float.NEGATIVE_INFINITY;
            int[] order = SamplerReference.rankOrder(logits);
            for (double p : new double[] {0.3, 0.9, 0.999}) {
                for (int k : new int[] {0, 50, 20_000}) {
                    for (double t : new double[] {0.7, 1.0}) {
                        int[] expected = SamplerReference.kept(logits, order, t, k, p);
                        int[] got = kept(seed1().temperature(t).topK(k).topP(p), logits);
                        assertArrayEquals(expected, got, "scale=" + scale + " p=" + p + " k=" + k + " T=" + t
                                + " (expected " + expected.length + " tokens, got " + got.length + ")");
                    }
                }
            }
        }
    }

    @Test
    void logprobsAreTheRawLogSoftmax() {
        for (int v : new int[] {1, 7, 1000, 152_064}) {
            float[] logits = randomLogits(v, v, 20);
            double[] expected = SamplerReference.logSoftmax(logits);
            int[] order = SamplerReference.rankOrder(logits);
            for (SamplingOptions o : List.of(
                    SamplingOptions.builder().temperature(0.7).topK(5).topP(0.9).seed(9L).logprobs(8).build(),
                    SamplingOptions.builder().temperature(0).logprobs(3).build(),
                    SamplingOptions.builder().temperature(1.5).seed(9L).logprobs(0).build())) {
                Sampler s = new Sampler(o);
                for (int rep = 0; rep < 5; rep++) {
                    SampledToken t = s.sample(logits, v);
                    assertEquals(expected[t.tokenId()], t.logprob(), 1e-5, "v=" + v + " " + o);
                    int n = Math.min(o.numTopLogprobs(), v);
                    assertEquals(n, t.topLogprobs().size());
                    for (int j = 0; j < n; j++) {
                        TokenLogprob alt = t.topLogprobs().get(j);
                        assertEquals(order[j], alt.tokenId());
                        assertEquals(expected[order[j]], alt.logprob(), 1e-5);
                    }
                }
            }
        }
    }

    @Test
    void topLogprobTiesListLowerIdsFirst() {
        SampledToken t = new Sampler(SamplingOptions.builder().temperature(0).logprobs(3).build())
                .sample(new float[] {0f, 1f, 0f, 1f, Float.NEGATIVE_INFINITY}, 5);
        assertEquals(List.of(1, 3, 0), t.topLogprobs().stream().map(TokenLogprob::tokenId).toList());
        assertEquals(Math.log(Math.E / (2 * Math.E + 2)), t.logprob(), 1e-6);
    }

    @Test
    void maskedTokensAreNeverSampled() {
        float[] logits = new float[100];
        Arrays.fill(logits, Float.NEGATIVE_INFINITY);
        logits[17] = -3f;
        logits[42] = -3.5f;
        logits[99] = 2f;
        SamplingOptions hot = SamplingOptions.builder().temperature(2).seed(5L).build();
        for (SamplingOptions o : List.of(hot, hot.toBuilder().topK(10).build(), hot.toBuilder().topP(0.999).build(),
                hot.toBuilder().topK(50).topP(0.9999).build())) {
            Sampler s = new Sampler(o);
            int[] counts = new int[100];
            for (int i = 0; i < 20_000; i++) {
                counts[s.sample(logits, 100).tokenId()]++;
            }
            assertEquals(20_000, counts[17] + counts[42] + counts[99], o.toString());
            assertTrue(counts[17] > 0 && counts[42] > 0, o + ": " + counts[17] + " " + counts[42]);
        }
    }

    @Test
    void badLogitsAreRejected() {
        Sampler s = new Sampler(SamplingOptions.defaults());
        assertEquals("logits[1] must be finite or -Infinity, got NaN",
                assertThrows(IllegalArgumentException.class, () -> s.sample(new float[] {0, Float.NaN}, 2)).getMessage());
        assertEquals("logits[0] must be finite or -Infinity, got Infinity", assertThrows(IllegalArgumentException.class,
                () -> s.sample(new float[] {Float.POSITIVE_INFINITY}, 1)).getMessage());
        assertEquals("all 2 logits are -Infinity: no token can be sampled", assertThrows(IllegalArgumentException.class,
                () -> s.sample(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, 2)).getMessage());
        assertEquals("logits[2 .. 5) must lie within the array of length 4",
                assertThrows(IllegalArgumentException.class, () -> s.sample(new float[4], 2, 3)).getMessage());
        assertEquals("vocabSize must be >= 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> s.sample(new float[4], 0)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Sampler(null));
    }
}
