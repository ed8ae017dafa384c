package io.rocketkv.core.numeric;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Exhaustive checks shared by every narrow float format, run by one subclass per format. Each subclass supplies
 * the codec under test and an independent reference decoder; all expected encodings are derived from the
 * reference values alone (nearest finite value, ties to the even bit pattern, sign kept), never from the codec.
 */
abstract class MinifloatFormatContract {

    /** Random floats compared against the nearest-value reference. */
    static final int RANDOM_SAMPLES = 200_000;
    /** Random floats for which the reference's binary search is checked against a linear scan. */
    static final int LINEAR_SCAN_SAMPLES = 2_000;

    /** Bits per encoding: 8 or 16. */
    abstract int width();

    /** Bit pattern of the largest finite value; all patterns {@code 0..maxBits} are finite and increasing. */
    abstract int maxBits();

    /** Codec under test: the encoding of {@code f}, as an unsigned int. */
    abstract int encode(float f);

    /** Codec under test: the value of the (unsigned) pattern. */
    abstract float decode(int pattern);

    /** Independent reference value of the (unsigned) pattern, NaN for NaN encodings. */
    abstract double referenceDecode(int pattern);

    final int patternCount() {
        return 1 << width();
    }

    final int signBit() {
        return 1 << (width() - 1);
    }

    /** {@code positiveValues()[k]} = reference value of pattern k, for k in 0..maxBits. */
    final double[] positiveValues() {
        double[] values = new double[maxBits() + 1];
        for (int k = 0; k <= maxBits(); k++) {
            values[k] = referenceDecode(k);
        }
        return values;
    }

    // ---------------------------------------------------------------- decoding

    @Test
    void decodeMatchesReferenceForEveryEncoding() {
        for (int i = 0; i < patternCount(); i++) {
            int p = i;
            double expected = referenceDecode(p);
            float actual = decode(p);
            if (Double.isNaN(expected)) {
                assertTrue(Float.isNaN(actual), () -> "pattern 0x%x should be NaN, got %s".formatted(p, actual));
            } else {
                assertEquals((double) (float) expected, expected, "reference value must be a float");
                assertEquals(Float.floatToRawIntBits((float) expected), Float.floatToRawIntBits(actual),
                        () -> "pattern 0x%x: expected %s, got %s".formatted(p, expected, actual));
            }
        }
    }

    @Test
    void finitePatternsAreOrderedAndSignSymmetric() {
        double[] values = positiveValues();
        assertEquals(0.0, values[0]);
        assertEquals(Double.doubleToRawLongBits(-0.0), Double.doubleToRawLongBits(referenceDecode(signBit())));
        for (int k = 1; k <= maxBits(); k++) {
            assertTrue(values[k] > values[k - 1], "pattern 0x" + Integer.toHexString(k) + " not increasing");
            assertEquals(-values[k], referenceDecode(signBit() | k));
        }
        for (int k = maxBits() + 1; k < signBit(); k++) {
            double v = referenceDecode(k);
            assertTrue(Double.isNaN(v) || Double.isInfinite(v), "pattern above max must be inf or NaN");
        }
    }

    // ---------------------------------------------------------------- round trip

    @Test
    void encodeOfDecodeIsIdentityOnEveryFiniteEncoding() {
        for (int p = 0; p < patternCount(); p++) {
            if ((p & ~signBit()) > maxBits()) {
                continue;
            }
            int pattern = p;
            assertEquals(p, encode(decode(p)), () -> "round trip of 0x" + Integer.toHexString(pattern));
        }
    }

    // ---------------------------------------------------------------- rounding

    @Test
    void midpointsRoundToEvenAndNeighboursRoundToNearer() {
        double[] values = positiveValues();
        for (int k = 0; k < maxBits(); k++) {
            double midpoint = (values[k] + values[k + 1]) / 2;
            float mid = (float) midpoint;
            assertEquals(midpoint, mid, "midpoint must be exact in float");
            int even = (k & 1) == 0 ? k : k + 1;
            assertEncodesTo(even, mid);
            assertEncodesTo(k, Math.nextDown(mid));
            assertEncodesTo(k + 1, Math.nextUp(mid));
        }
    }

    @Test
    void beyondMaxFiniteSaturates() {
        double[] values = positiveValues();
        double max = values[maxBits()];
        double step = max - values[maxBits() - 1]; // format ulp at max
        float halfway = (float) (max + step / 2); // where round-to-nearest-even would go to the next binade
        float next = (float) (max + step);
        assertEquals(max + step / 2, halfway);
        for (float f : new float[] {Math.nextUp((float) max), Math.nextDown(halfway), halfway, Math.nextUp(halfway),
                next, 2 * next, 1e10f, Float.MAX_VALUE}) {
            if (Float.isFinite(f) && f > max) { // for bf16, max + step is already beyond float range
                assertEncodesTo(maxBits(), f);
            }
        }
    }

    @Test
    void randomFloatsMatchNearestFiniteReference() {
        double[] values = positiveValues();
        SplittableRandom random = new SplittableRandom(0x5EED_0001L + width() * 31L + maxBits());
        for (int i = 0; i < RANDOM_SAMPLES; i++) {
            float f = randomFloat(random, values);
            // Brute force over all 2^8 encodings for fp8; binary search (checked against brute force below) for 16-bit.
            int expected = values.length <= 256 ? nearestByLinearScan(values, f) : nearestBySearch(values, f);
            int actual = encode(f);
            if (actual != expected) {
                fail("encode(%s) [bits 0x%08x] = 0x%x, nearest reference 0x%x".formatted(
                        f, Float.floatToRawIntBits(f), actual, expected));
            }
        }
    }

    @Test
    void searchReferenceAgreesWithLinearScan() {
        double[] values = positiveValues();
        SplittableRandom random = new SplittableRandom(0x5EED_0002L + width());
        for (int i = 0; i < LINEAR_SCAN_SAMPLES; i++) {
            float f = randomFloat(random, values);
            assertEquals(nearestByLinearScan(values, f), nearestBySearch(values, f), "reference mismatch at " + f);
        }
    }

    @Test
    void signedZerosArePreserved() {
        assertEquals(0, encode(0.0f));
        assertEquals(signBit(), encode(-0.0f));
        assertEquals(signBit(), encode(-Float.MIN_VALUE), "a negative value rounding to zero gives -0");
    }

    // ---------------------------------------------------------------- reference helpers

    final void assertEncodesTo(int magnitudePattern, float f) {
        assertEquals(magnitudePattern, encode(f),
                () -> "encode(%s) [bits 0x%08x]".formatted(f, Float.floatToRawIntBits(f)));
        assertEquals(signBit() | magnitudePattern, encode(-f),
                () -> "encode(%s) [bits 0x%08x]".formatted(-f, Float.floatToRawIntBits(-f)));
    }

    /**
     * A finite float spread over the format's interesting ranges: below the smallest subnormal through beyond the
     * max finite value, values a few float ulps from format values (near-ties), and arbitrary float bit patterns.
     */
    static float randomFloat(SplittableRandom random, double[] values) {
        int maxBits = values.length - 1;
        float f;
        do {
            switch (random.nextInt(4)) {
                case 0 -> f = Float.intBitsToFloat(random.nextInt());
                case 1 -> {
                    int minExp = Math.getExponent(values[1]) - 4;
                    int maxExp = Math.getExponent(values[maxBits]) + 4;
                    float mantissa = 1 + random.nextInt(1 << 23) / (float) (1 << 23);
                    f = Math.scalb(mantissa, random.nextInt(minExp, maxExp + 1));
                }
                case 2 -> {
                    // Close to a midpoint between neighbours (including past the max finite value).
                    int k = random.nextInt(maxBits + 1);
                    double lo = values[k];
                    double hi = k < maxBits ? values[k + 1] : 2 * lo - values[k - 1];
                    f = (float) ((lo + hi) / 2);
                    for (int n = random.nextInt(-3, 4); n != 0; n -= Integer.signum(n)) {
                        f = n > 0 ? Math.nextUp(f) : Math.nextDown(f);
                    }
                }
                default -> {
                    f = (float) values[random.nextInt(maxBits + 1)];
                    for (int n = random.nextInt(-3, 4); n != 0; n -= Integer.signum(n)) {
                        f = n > 0 ? Math.nextUp(f) : Math.nextDown(f);
                    }
                }
            }
        } while (!Float.isFinite(f));
        return random.nextBoolean() ? -f : f;
    }

    /** Expected encoding of finite {@code f}: binary search over the sorted finite values, exact comparisons. */
    final int nearestBySearch(double[] values, float f) {
        double x = Math.abs((double) f);
        int sign = (Float.floatToRawIntBits(f) < 0) ? signBit() : 0;
        int i = Arrays.binarySearch(values, x);
        int magnitude;
        if (i >= 0) {
            magnitude = i;
        } else {
            int below = -i - 2; // values[below] < x < values[below + 1]
            if (below == values.length - 1) {
                magnitude = below; // beyond max finite: the nearest finite value is max
            } else {
                magnitude = closer(values, x, below, below + 1);
            }
        }
        return sign | magnitude;
    }

    /** Expected encoding of finite {@code f}: linear scan over every finite magnitude, exact comparisons. */
    final int nearestByLinearScan(double[] values, float f) {
        double x = Math.abs((double) f);
        int sign = (Float.floatToRawIntBits(f) < 0) ? signBit() : 0;
        int best = 0;
        for (int k = 1; k < values.length; k++) {
            best = closer(values, x, best, k);
        }
        return sign | best;
    }

    /** Of patterns a and b, the one whose value is nearer to x; on a tie, the even pattern. */
    private static int closer(double[] values, double x, int a, int b) {
        int c = compareDistances(x, values[a], values[b]);
        if (c != 0) {
            return c < 0 ? a : b;
        }
        return (a & 1) == 0 ? a : b;
    }

    /**
     * Compares |x − u| with |x − v| exactly. A double difference of two floats can round, so each distance is
     * kept as an unevaluated sum hi + lo (Knuth's TwoSum, error-free); comparing (hi, lo) lexicographically is
     * then exact, since rounding is monotonic.
     */
    static int compareDistances(double x, double u, double v) {
        double hu = x - u;
        double lu = twoSumError(x, -u, hu);
        double hv = x - v;
        double lv = twoSumError(x, -v, hv);
        if (hu < 0) { // hi == 0 implies lo == 0: the difference of two floats never underflows in double
            hu = -hu;
            lu = -lu;
        }
        if (hv < 0) {
            hv = -hv;
            lv = -lv;
        }
        if (hu != hv) {
            return hu < hv ? -1 : 1;
        }
        return lu < lv ? -1 : lu > lv ? 1 : 0;
    }

    /** The exact error a + b − s of the rounded sum s = a + b. */
    private static double twoSumError(double a, double b, double s) {
        double bb = s - a;
        return (a - (s - bb)) + (b - bb);
    }
}
