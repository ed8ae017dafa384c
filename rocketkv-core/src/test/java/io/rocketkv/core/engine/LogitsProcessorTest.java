package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link LogitsProcessor} against a brute-force reference written from the definitions (vLLM's / OpenAI's), and the
 * {@link Sampler} drawing from the adjusted row: greedy picks its argmax, seeded draws follow its softmax.
 */
class LogitsProcessorTest {

    private static final int V = 9;
    private static final int[] PROMPT = {1, 2, 2};
    private static final int[] OUTPUTS = {3, 3, 4, 2};

    private static float[] row(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] l = new float[V];
        for (int i = 0; i < V; i++) {
            l[i] = (float) (r.nextDouble() * 6 - 3);
        }
        return l;
    }

    /** The definition, token by token, in double precision. */
    private static float[] reference(float[] raw, Penalties p, StopCriteria stop, double temperature, int[] prompt,
                                     int[] outputs) {
        float[] out = new float[V];
        for (int t = 0; t < V; t++) {
            double l = raw[t] + p.logitBias().getOrDefault(t, 0f);
            boolean seen = contains(prompt, t) || contains(outputs, t);
            if (seen && p.repetitionPenalty() != 1.0) {
                l = l > 0 ? l / p.repetitionPenalty() : l * p.repetitionPenalty();
            }
            int count = 0;
            for (int o : outputs) {
                count += o == t ? 1 : 0;
            }
            if (count > 0) {
                l -= p.presencePenalty() + p.frequencyPenalty() * count;
            }
            out[t] = (float) l;
        }
        for (int t : p.badTokenIds()) {
            out[t] = Float.NEGATIVE_INFINITY;
        }
        for (List<Integer> w : p.badWords()) {
            int k = w.size() - 1;
            boolean match = k <= outputs.length;
            for (int i = 0; match && i < k; i++) {
                match = outputs[outputs.length - k + i] == w.get(i);
            }
            if (match) {
                out[w.get(k)] = Float.NEGATIVE_INFINITY;
            }
        }
        if (outputs.length < stop.minTokens()) {
            for (int t : stop.eosTokenIds()) {
                out[t] = Float.NEGATIVE_INFINITY;
            }
            for (int t : stop.stopTokenIds()) {
                out[t] = Float.NEGATIVE_INFINITY;
            }
        }
        if (p.minP() > 0) {
            double max = Double.NEGATIVE_INFINITY;
            double[] prob = new double[V];
            for (float x : out) {
                max = Math.max(max, x);
            }
            for (int t = 0; t < V; t++) {
                prob[t] = Math.exp((out[t] - max) / temperature); // relative to the most probable (1.0)
            }
            for (int t = 0; t < V; t++) {
                if (prob[t] < p.minP()) {
                    out[t] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        return out;
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    private static LogitsProcessor processor(Penalties p, StopCriteria stop, double temperature) {
        LogitsProcessor lp = LogitsProcessor.forRequest(
                SamplingOptions.builder().temperature(temperature).penalties(p).build(), stop, PROMPT);
        for (int o : OUTPUTS) {
            lp.accept(o);
        }
        return lp;
    }

    private static final StopCriteria STOP = StopCriteria.builder().maxTokens(16).eosTokenIds(List.of(0)).build();

    @Test
    void eachAdjustmentMatchesTheDefinition() {
        List<Penalties> cases = List.of(
                new Penalties(Map.of(5, 2.5f, 7, -1f), 1.0, 0.0, 0.0, List.of(), List.of(), 0.0),
                new Penalties(Map.of(), 1.3, 0.0, 0.0, List.of(), List.of(), 0.0),
                new Penalties(Map.of(), 0.7, 0.0, 0.0, List.of(), List.of(), 0.0),
                new Penalties(Map.of(), 1.0, 0.8, 0.0, List.of(), List.of(), 0.0),
                new Penalties(Map.of(), 1.0, 0.0, -0.6, List.of(), List.of(), 0.0),
                new Penalties(Map.of(), 1.0, 0.0, 0.0, List.of(6, 8), List.of(), 0.0),
                new Penalties(Map.of(), 1.0, 0.0, 0.0, List.of(), List.of(List.of(4, 2, 7), List.of(2, 5),
                        List.of(1)), 0.0),
                new Penalties(Map.of(), 1.0, 0.0, 0.0, List.of(), List.of(), 0.2),
                new Penalties(Map.of(1, 0.5f), 1.2, -0.4, 0.3, List.of(8), List.of(List.of(2, 6)), 0.05));
        for (long seed = 0; seed < 20; seed++) {
            float[] raw = row(seed);
            for (Penalties p : cases) {
                float[] want = reference(raw, p, STOP, 0.8, PROMPT, OUTPUTS);
                float[] got = processor(p, STOP, 0.8).apply(raw, 0, V);
                for (int t = 0; t < V; t++) {
                    assertEquals(want[t], got[t], 1e-5, "token " + t + " of " + p);
                }
            }
        }
    }

    @Test
    void minTokensMasksEosAndStopIdsUntilReached() {
        StopCriteria stop = StopCriteria.builder().maxTokens(16).eosTokenIds(List.of(0)).stopTokenIds(List.of(7))
                .minTokens(5).build();
        float[] raw = row(3);
        float[] before = processor(Penalties.NONE, stop, 1.0).apply(raw, 0, V); // 4 outputs < 5
        assertEquals(Float.NEGATIVE_INFINITY, before[0]);
        assertEquals(Float.NEGATIVE_INFINITY, before[7]);
        assertArrayEquals(reference(raw, Penalties.NONE, stop, 1.0, PROMPT, OUTPUTS), before);
        LogitsProcessor lp = processor(Penalties.NONE, stop, 1.0);
        lp.accept(5);
        assertArrayEquals(raw, lp.apply(raw, 0, V), "reached: nothing masked");
        StopCriteria ignoring = StopCriteria.builder().maxTokens(16).eosTokenIds(List.of(0)).ignoreEos(true)
                .minTokens(5).build();
        assertEquals(raw[0], processor(Penalties.NONE, ignoring, 1.0).apply(raw, 0, V)[0],
                "ignore_eos: EOS is an ordinary token");
    }

    @Test
    void nothingToAdjustMeansNoProcessor() {
        assertNull(LogitsProcessor.forRequest(SamplingOptions.defaults(), STOP, PROMPT));
    }

    @Test
    void greedyPicksTheAdjustedArgmaxAndReportsTheRawLogprob() {
        float[] raw = row(11);
        int rawArgmax = 0;
        for (int t = 1; t < V; t++) {
            rawArgmax = raw[t] > raw[rawArgmax] ? t : rawArgmax;
        }
        int target = (rawArgmax + 1) % V;
        Penalties p = new Penalties(Map.of(target, 50f), 1.0, 0.0, 0.0, List.of(), List.of(), 0.0);
        Sequence seq = sequence(SamplingOptions.builder().temperature(0.0).penalties(p).build());
        SampledToken t = seq.sampleNext(raw, 0, V);
        assertEquals(target, t.tokenId());
        double lse = 0;
        for (float x : raw) {
            lse += Math.exp(x);
        }
        assertEquals(raw[target] - Math.log(lse), t.logprob(), 1e-5, "log-probability of the raw row");
        Sequence banned = sequence(SamplingOptions.builder().temperature(0.0)
                .penalties(new Penalties(Map.of(), 1.0, 0.0, 0.0, List.of(rawArgmax), List.of(), 0.0)).build());
        int second = banned.sampleNext(raw, 0, V).tokenId();
        float best = Float.NEGATIVE_INFINITY;
        int want = -1;
        for (int i = 0; i < V; i++) {
            if (i != rawArgmax && raw[i] > best) {
                best = raw[i];
                want = i;
            }
        }
        assertEquals(want, second);
    }

    @Test
    void seededDrawsFollowTheAdjustedDistribution() {
        float[] raw = row(5);
        Penalties p = new Penalties(Map.of(2, 1f), 1.1, 0.3, 0.2, List.of(6), List.of(), 0.1);
        double temperature = 0.9;
        float[] adjusted = reference(raw, p, STOP, temperature, new int[] {9 - 1}, new int[0]);
        double[] want = new double[V];
        double z = 0;
        for (int t = 0; t < V; t++) {
            want[t] = Math.exp(adjusted[t] / temperature);
            z += want[t];
        }
        int draws = 20000;
        int[] counts = new int[V];
        Sampler sampler = new Sampler(SamplingOptions.builder().temperature(temperature).seed(1L).build());
        LogitsProcessor lp = LogitsProcessor.forRequest(
                SamplingOptions.builder().temperature(temperature).penalties(p).build(), STOP, new int[] {8});
        float[] row = lp.apply(raw, 0, V).clone();
        for (int i = 0; i < draws; i++) {
            counts[sampler.sample(raw, 0, row, 0, V).tokenId()]++;
        }
        for (int t = 0; t < V; t++) {
            double expected = draws * want[t] / z;
            if (expected == 0) {
                assertEquals(0, counts[t], "token " + t + " is excluded");
            } else {
                assertTrue(Math.abs(counts[t] - expected) < 5 * Math.sqrt(expected) + 1,
                        "token " + t + ": " + counts[t] + " draws, expected " + expected);
            }
        }
    }

    @Test
    void aRowWithEveryTokenBannedIsNamed() {
        List<Integer> all = java.util.stream.IntStream.range(0, V).boxed().toList();
        Sequence seq = sequence(SamplingOptions.builder().temperature(0.0)
                .penalties(new Penalties(Map.of(), 1.0, 0.0, 0.0, all, List.of(), 0.0)).build());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> seq.sampleNext(row(1), 0, V));
        assertTrue(e.getMessage().contains("penalties and bans"), e.getMessage());
    }

    @Test
    void outOfRangeValuesAreRefused() {
        assertThrows(IllegalArgumentException.class,
                () -> new Penalties(Map.of(), 0.0, 0, 0, List.of(), List.of(), 0));
        assertThrows(IllegalArgumentException.class,
                () -> new Penalties(Map.of(), 1.0, 2.5, 0, List.of(), List.of(), 0));
        assertThrows(IllegalArgumentException.class,
                () -> new Penalties(Map.of(), 1.0, 0, 0, List.of(), List.of(), 1.5));
        assertThrows(IllegalArgumentException.class,
                () -> new Penalties(Map.of(), 1.0, 0, 0, List.of(), List.of(List.of()), 0));
        assertThrows(IllegalArgumentException.class,
                () -> new Penalties(Map.of(-1, 1f), 1.0, 0, 0, List.of(), List.of(), 0));
    }

    private static Sequence sequence(SamplingOptions o) {
        return new Sequence(0, new GenerationRequest(PROMPT, o, STOP, null), 0);
    }
}
