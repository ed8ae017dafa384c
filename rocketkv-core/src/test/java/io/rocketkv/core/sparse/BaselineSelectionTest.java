package io.rocketkv.core.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.numeric.DType;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The evaluation-only stage-1 baselines select exactly what {@link Stage1Policy} says. */
class BaselineSelectionTest {

    @Test
    void slidingWindowKeepsTheLastBudgetTokens() {
        int[][] kept = RocketKv.selectPromptTokensBaseline(Stage1Policy.SLIDING_WINDOW, 3, 100, 8, 24);
        assertEquals(3, kept.length);
        int[] expected = new int[24];
        for (int i = 0; i < 24; i++) {
            expected[i] = 76 + i;
        }
        for (int[] row : kept) {
            assertArrayEquals(expected, row);
        }
    }

    @Test
    void randomKeepsBudgetDistinctSortedIndicesWithTheWindow() {
        int len = 500, w = 16, budget = 64;
        int[][] kept = RocketKv.selectPromptTokensBaseline(Stage1Policy.random(7), 4, len, w, budget);
        for (int[] row : kept) {
            assertEquals(budget, row.length);
            for (int i = 1; i < row.length; i++) {
                assertTrue(row[i - 1] < row[i], "ascending and distinct: " + Arrays.toString(row));
            }
            assertTrue(row[0] >= 0);
            for (int t = 0; t < w; t++) {
                assertEquals(len - w + t, row[budget - w + t], "the window is kept");
            }
            assertTrue(row[budget - w - 1] < len - w, "the rest comes from the prefix");
        }
        assertFalse(Arrays.equals(kept[0], kept[1]), "KV heads draw different subsets");
        int[] sliding = RocketKv.selectPromptTokensBaseline(Stage1Policy.SLIDING_WINDOW, 1, len, w, budget)[0];
        assertFalse(Arrays.equals(sliding, kept[0]), "random is not the sliding window");
    }

    @Test
    void randomIsDeterministicPerSeedAndDiffersAcrossSeeds() {
        int[][] a = RocketKv.selectPromptTokensBaseline(Stage1Policy.random(3), 2, 1000, 8, 40);
        int[][] b = RocketKv.selectPromptTokensBaseline(Stage1Policy.random(3), 2, 1000, 8, 40);
        int[][] c = RocketKv.selectPromptTokensBaseline(Stage1Policy.random(4), 2, 1000, 8, 40);
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a[0], c[0]));
    }

    @Test
    void randomSpreadsOverThePrefix() {
        // 200 draws of 1 token from a prefix of 10: every position is chosen at least once
        boolean[] seen = new boolean[10];
        for (long seed = 0; seed < 200; seed++) {
            seen[RocketKv.selectPromptTokensBaseline(Stage1Policy.random(seed), 1, 11, 1, 2)[0][0]] = true;
        }
        for (int i = 0; i < 10; i++) {
            assertTrue(seen[i], "prefix token " + i + " never drawn");
        }
    }

    @Test
    void shortPromptsKeepEverythingAndBudgetEqualToWindowKeepsTheWindow() {
        for (Stage1Policy p : new Stage1Policy[] {Stage1Policy.SLIDING_WINDOW, Stage1Policy.random(1)}) {
            assertArrayEquals(new int[] {0, 1, 2, 3, 4}, RocketKv.selectPromptTokensBaseline(p, 1, 5, 2, 8)[0]);
            assertArrayEquals(new int[] {6, 7, 8}, RocketKv.selectPromptTokensBaseline(p, 1, 9, 3, 3)[0]);
        }
    }

    @Test
    void badArgumentsAreRefusedByName() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> RocketKv.selectPromptTokensBaseline(Stage1Policy.ROCKET, 1, 10, 2, 4));
        assertTrue(e.getMessage().contains("selectPromptTokens"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> RocketKv.selectPromptTokensBaseline(Stage1Policy.SLIDING_WINDOW, 1, 10, 8, 4));
        assertTrue(e.getMessage().contains("promptBudget"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new Stage1Policy(Stage1Policy.Kind.SLIDING_WINDOW, 5));
        assertTrue(e.getMessage().contains("seed"), e.getMessage());
    }

    @Test
    void paramsDefaultToRocketAndCarryThePolicy() {
        var p = RocketKvParams.builder().windowSize(8).kernelSize(7).promptBudget(64).topk(4).topr(16)
                .pageSize(4).ktDtype(DType.F8_E5M2).build();
        assertEquals(Stage1Policy.ROCKET, p.stage1Policy());
        var q = p.withStage1Policy(Stage1Policy.random(9));
        assertEquals(Stage1Policy.random(9), q.stage1Policy());
        assertEquals(p.promptBudget(), q.promptBudget());
        assertEquals("random(9)", q.stage1Policy().label());
    }
}
