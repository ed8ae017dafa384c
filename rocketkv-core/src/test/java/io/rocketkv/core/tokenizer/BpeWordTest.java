package io.rocketkv.core.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The heap-based merge against a naive reference: repeatedly apply the lowest-rank, leftmost pair. */
class BpeWordTest {

    @Test
    void matchesNaiveReferenceOnRandomVocabularies() {
        Random rng = new Random(7);
        for (int trial = 0; trial < 200; trial++) {
            List<String> tokens = new ArrayList<>(List.of("a", "b", "c", "d"));
            Map<String, Integer> ids = new HashMap<>();
            for (int i = 0; i < tokens.size(); i++) {
                ids.put(tokens.get(i), i);
            }
            int merges = 1 + rng.nextInt(40);
            int[] left = new int[merges];
            int[] right = new int[merges];
            int[] merged = new int[merges];
            for (int r = 0; r < merges; r++) {
                String a = tokens.get(rng.nextInt(tokens.size()));
                String b = tokens.get(rng.nextInt(tokens.size()));
                String ab = a + b;
                if (!ids.containsKey(ab)) {
                    ids.put(ab, tokens.size());
                    tokens.add(ab);
                }
                left[r] = ids.get(a);
                right[r] = ids.get(b);
                merged[r] = ids.get(ab);
            }
            MergeTable table = new MergeTable(left, right, merged);
            for (int w = 0; w < 20; w++) {
                int n = 1 + rng.nextInt(rng.nextBoolean() ? 8 : 200);
                int[] word = new int[n];
                for (int i = 0; i < n; i++) {
                    word[i] = rng.nextInt(4);
                }
                int[] expected = naive(word, table);
                assertArrayEquals(expected, BpeWord.merge(word.clone(), n, table), "trial " + trial + " word " + w);
            }
        }
    }

    @Test
    void longRunsMergeInNLogN() {
        // "a a" -> "aa", "aa aa" -> "aaaa", ...: a 200k run is a deep cascade of equal-rank merges.
        int[] left = {0, 1, 2};
        int[] right = {0, 1, 2};
        int[] merged = {1, 2, 3};
        MergeTable table = new MergeTable(left, right, merged);
        int n = 200_000;
        long start = System.nanoTime();
        int[] out = BpeWord.merge(new int[n], n, table);
        long millis = (System.nanoTime() - start) / 1_000_000;
        assertEquals(n / 8, out.length);
        assertEquals(3, out[0]);
        org.junit.jupiter.api.Assertions.assertTrue(millis < 2_000, "200k symbols took " + millis + " ms");
    }

    private static int[] naive(int[] word, MergeTable table) {
        List<Integer> symbols = new ArrayList<>();
        for (int id : word) {
            symbols.add(id);
        }
        while (true) {
            int best = -1;
            int bestRank = Integer.MAX_VALUE;
            for (int i = 0; i + 1 < symbols.size(); i++) {
                int rank = table.rank(symbols.get(i), symbols.get(i + 1));
                if (rank >= 0 && rank < bestRank) {
                    bestRank = rank;
                    best = i;
                }
            }
            if (best < 0) {
                return symbols.stream().mapToInt(Integer::intValue).toArray();
            }
            symbols.set(best, table.newId(bestRank));
            symbols.remove(best + 1);
        }
    }
}
