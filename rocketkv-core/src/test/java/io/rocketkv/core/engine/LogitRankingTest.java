package io.rocketkv.core.engine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Comparator;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class LogitRankingTest {

    @Test
    void keyOrderIsDescendingLogitThenAscendingId() {
        float[] values = {Float.NEGATIVE_INFINITY, -Float.MAX_VALUE, -1e30f, -2.5f, -1f, -Float.MIN_VALUE, -0.0f, 0.0f,
                Float.MIN_VALUE, 1f, 3.25f, Float.MAX_VALUE};
        for (int i = 0; i < values.length; i++) {
            for (int j = 0; j < values.length; j++) {
                for (int a = 0; a < 3; a++) {
                    for (int b = 0; b < 3; b++) {
                        int expected = Float.compare(values[j] + 0.0f, values[i] + 0.0f);   // descending logit
                        if (expected == 0) {
                            expected = Integer.compare(a, b);                              // ascending id
                        }
                        assertEquals(Integer.signum(expected),
                                Long.signum(Long.compare(LogitRanking.key(values[i], a), LogitRanking.key(values[j], b))),
                                values[i] + "#" + a + " vs " + values[j] + "#" + b);
                    }
                }
            }
        }
        assertEquals(123_456, LogitRanking.id(LogitRanking.key(-7f, 123_456)));
    }

    @Test
    void selectTopMatchesABoxedSort() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (int trial = 0; trial < 200; trial++) {
            int n = 1 + rnd.nextInt(300);
            int offset = rnd.nextInt(5);
            float[] logits = new float[offset + n];
            for (int i = 0; i < logits.length; i++) {
                logits[i] = rnd.nextInt(10) == 0 ? Float.NEGATIVE_INFINITY : rnd.nextInt(20) / 4f;   // many ties
            }
            int[] expected = IntStream.range(0, n).boxed()
                    .sorted(Comparator.<Integer>comparingDouble(i -> -logits[offset + i]).thenComparingInt(i -> i))
                    .mapToInt(Integer::intValue).toArray();
            int k = 1 + rnd.nextInt(n);
            long[] out = new long[n];
            LogitRanking.selectTop(logits, offset, n, k, out);
            int[] got = Arrays.stream(out, 0, k).mapToInt(LogitRanking::id).toArray();
            assertArrayEquals(Arrays.copyOf(expected, k), got, "n=" + n + " k=" + k);
            LogitRanking.sortAll(logits, offset, n, out);
            assertArrayEquals(expected, Arrays.stream(out, 0, n).mapToInt(LogitRanking::id).toArray());
        }
    }
}
