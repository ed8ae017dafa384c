package io.rocketkv.core.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

/** The near-tie rule of {@link SelectionCheck} itself: it accepts only swaps within the tolerance. */
class SelectionCheckTest {

    @Test
    void acceptsTheExactTopKAndNearTiesOnlyAndCountsThem() {
        SelectionCheck check = new SelectionCheck("checker");
        double[] scores = {0.5, 0.3, 0.3 * (1 - 1e-6), 0.1};
        check.check("exact", new int[] {0, 1}, 2, scores);
        check.check("near tie", new int[] {0, 2}, 2, scores);       // 0.3 vs 0.3·(1 − 1e-6): swap accepted
        assertThrows(AssertionFailedError.class, () -> check.check("real", new int[] {0, 3}, 2, scores));
        assertThrows(AssertionFailedError.class, () -> check.check("unsorted", new int[] {1, 0}, 2, scores));
        assertThrows(AssertionFailedError.class, () -> check.check("size", new int[] {0}, 2, scores));
        // An alternative way of deciding (second vector) may justify a selection the primary does not.
        check.check("variant", new int[] {0, 3}, 2, scores, new double[] {0.5, 0.3, 0.2, 0.4});
        assertEquals(4, check.selections());                          // "real" counted before it failed
        assertEquals(2, check.disagreementsWithinTolerance());        // "near tie" and "variant"
    }
}
