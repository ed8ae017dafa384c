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

    private static SamplingOptions opts(double t, int k, double p, Long seed) {
        return new SamplingOptions(t, k, p, seed, null);
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
            SamplingOptions o = opts(t, -1, 1.0, 7L);
            assertTrue(o.isGreedy(), "T = " + t);
            Sampler s = new Sampler(o);
            for (int i = 0; i < 20; i++) {
                assertEquals(argmax, s.sample(logits, logits.length).tokenId(), "T = " + t);
            }
        }
        assertTrue(!opts(SamplingOptions.GREEDY_BELOW_TEMPERATURE, -1, 1.0, 7L).isGreedy(), "1e-5 itself samples");
    }

    @Test
    void sameSeedSameTokensDifferentSeedsDiffer() {
        float[] logits = randomLogits(3, 50, 2);
        SamplingOptions o = new SamplingOptions(1.0, -1, 0.95, 1234L, null);
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
        assertArrayEquals(new int[] {5, 1}, new Sampler(opts(1, 2, 1, 1L)).keptTokenIds(logits, 6));
        assertArrayEquals(new int[] {5, 1, 2}, new Sampler(opts(1, 3, 1, 1L)).keptTokenIds(logits, 6));
        assertArrayEquals(new int[] {5, 1, 2, 3, 0, 4}, new Sampler(opts(1, 6, 1, 1L)).keptTokenIds(logits, 6));
        assertArrayEquals(new int[] {5, 1, 2, 3, 0, 4}, new Sampler(opts(1, 99, 1, 1L)).keptTokenIds(logits, 6));
    }

    @Test
    void topPEdgeCases() {
        float[] logits = {0.5f, 2f, 2f, -1f, 1f};
        // p = 1 keeps everything.
        assertEquals(5, new Sampler(opts(1, -1, 1.0, 1L)).keptTokenIds(logits, 5).length);
        assertEquals(5, new Sampler(opts(1, 0, 1.0, 1L)).keptTokenIds(logits, 5).length);
        // A tiny p keeps only the best token (the lower id of the tied pair), and always at least one.
        Sampler tiny = new Sampler(opts(1, -1, 1e-9, 1L));
        assertArrayEquals(new int[] {1}, tiny.keptTokenIds(logits, 5));
        for (int i = 0; i < 1000; i++) {
            assertEquals(1, tiny.sample(logits, 5).tokenId());
        }
        // p just above the top token's probability needs the second one too.
        double top = Math.exp(SamplerReference.logSoftmax(logits)[1]);
        assertArrayEquals(new int[] {1, 2}, new Sampler(opts(1, -1, top + 1e-6, 1L)).keptTokenIds(logits, 5));
        assertArrayEquals(new int[] {1}, new Sampler(opts(1, -1, top - 1e-6, 1L)).keptTokenIds(logits, 5));
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
                for (int k : new int[] {-1, 50, 20_000}) {
                    for (double t : new double[] {0.7, 1.0}) {
                        int[] expected = SamplerReference.kept(logits, order, t, k, p);
                        int[] got = new Sampler(opts(t, k, p, 1L)).keptTokenIds(logits, logits.length);
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
            for (SamplingOptions o : List.of(new SamplingOptions(0.7, 5, 0.9, 9L, 8),
                    new SamplingOptions(0, -1, 1, null, 3), new SamplingOptions(1.5, -1, 1, 9L, 0))) {
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
        SampledToken t = new Sampler(new SamplingOptions(0, -1, 1, null, 3))
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
        for (SamplingOptions o : List.of(opts(2, -1, 1, 5L), opts(2, 10, 1, 5L), opts(2, -1, 0.999, 5L),
                opts(2, 50, 0.9999, 5L))) {
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
