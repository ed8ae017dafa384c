package io.rocketkv.core.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;

/**
 * Compares a production top-k selection (fp32) with the fp64 reference scores, and keeps the statistics.
 *
 * <p>The rule: the selection must equal the reference's exact top-k (ties: lower index). It may differ only if it
 * is still a top-k of the reference scores up to a relative tolerance: {@code max(score outside) − min(score
 * inside) <= REL_TOL · max(score outside)}, i.e. every swapped pair is a near tie at the selection boundary. Such
 * cases are counted and printed, never skipped. Where the reference itself met an ambiguous decision (the sign of a
 * channel sum within rounding of zero), the caller passes one score vector per way of deciding it; the selection
 * must then match one of them under the same rule.
 */
final class SelectionCheck {

    /**
     * A gap below this (relative to the larger score) is a near tie. {@link ScoreAccuracyTest} asserts that every
     * fp32 score is within 1e-5 relative of the fp64 one (observed: up to about 5e-6, on the smallest probabilities
     * of peaked rows); two scores a > b can then swap only if a − b < 2e-5 · a.
     */
    static final double REL_TOL = 2e-5;

    private final String stage;
    private int selections;
    private int exactMatches;
    private int exactTiesAtBoundary;
    private int nearTiesAtBoundary;
    private int disagreementsWithinTolerance;

    SelectionCheck(String stage) {
        this.stage = stage;
    }

    /**
     * @param label    what was selected, printed on a disagreement or failure
     * @param actual   production selection (ascending)
     * @param k        number requested
     * @param variants reference scores; variants[0] is the primary way of deciding, the others alternatives
     */
    void check(String label, int[] actual, int k, double[]... variants) {
        double[] primary = variants[0];
        int n = primary.length;
        assertEquals(Math.min(k, n), actual.length, label + ": selection size");
        for (int i = 0; i < actual.length; i++) {
            assertTrue(actual[i] >= 0 && actual[i] < n, label + ": index out of range " + actual[i]);
            assertTrue(i == 0 || actual[i] > actual[i - 1], label + ": not strictly ascending " + Arrays.toString(actual));
        }
        selections++;
        int[] expected = RocketKvReference.topAscending(primary, k);
        if (k > 0 && k < n) {
            double gap = minInside(expected, primary) - maxOutside(expected, primary);
            if (gap == 0) {
                exactTiesAtBoundary++;
            } else if (gap <= REL_TOL * Math.abs(minInside(expected, primary))) {
                nearTiesAtBoundary++;
            }
        }
        if (Arrays.equals(expected, actual)) {
            exactMatches++;
            return;
        }
        for (double[] scores : variants) {
            double outside = maxOutside(actual, scores);
            double inside = minInside(actual, scores);
            if (outside - inside <= REL_TOL * Math.abs(outside)) {
                disagreementsWithinTolerance++;
                System.out.printf("%s near tie: %s selection differs from the fp64 reference; min score inside %.9g, "
                        + "max outside %.9g (relative gap %.2e)%n", stage, label, inside, outside,
                        (outside - inside) / Math.abs(outside));
                return;
            }
        }
        fail(label + ": selection differs from the reference beyond the near-tie tolerance" + "\n expected "
                + describe(expected, primary) + "\n actual   " + describe(actual, primary));
    }

    /** Prints the statistics and checks that disagreements stay rare (at most 1% of the selections). */
    void report() {
        System.out.printf("%s: %d selections, %d exact matches, %d with an exact tie at the boundary (tie rule), "
                        + "%d with a near tie (gap < %.0e relative) at the boundary, %d disagreements within tolerance%n",
                stage, selections, exactMatches, exactTiesAtBoundary, nearTiesAtBoundary, REL_TOL,
                disagreementsWithinTolerance);
        assertTrue(disagreementsWithinTolerance * 100 <= selections,
                stage + ": near-tie disagreements should be rare, got " + disagreementsWithinTolerance + " of "
                        + selections);
    }

    int selections() {
        return selections;
    }

    int disagreementsWithinTolerance() {
        return disagreementsWithinTolerance;
    }

    private static double minInside(int[] chosen, double[] scores) {
        double m = Double.POSITIVE_INFINITY;
        for (int i : chosen) {
            m = Math.min(m, scores[i]);
        }
        return m;
    }

    private static double maxOutside(int[] chosen, double[] scores) {
        boolean[] in = new boolean[scores.length];
        for (int i : chosen) {
            in[i] = true;
        }
        double m = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < scores.length; i++) {
            if (!in[i]) {
                m = Math.max(m, scores[i]);
            }
        }
        return m;
    }

    private static String describe(int[] chosen, double[] scores) {
        int[] diffShown = Arrays.copyOf(chosen, Math.min(chosen.length, 12));
        return Arrays.toString(diffShown) + (chosen.length > 12 ? "..." : "") + " min inside "
                + minInside(chosen, scores) + ", max outside " + maxOutside(chosen, scores);
    }
}
