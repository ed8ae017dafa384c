package io.rocketkv.core.weights;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.rocketkv.core.testing.OcpE4m3;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link Fp8Quantizer} against a brute-force reference: every one of the 256 e4m3 codes decoded by the OCP formula,
 * the nearest finite one chosen (ties to the even code, beyond ±448 the largest), and absmax / 448 scaling.
 */
class Fp8QuantizerTest {

    /** The value of each code (OCP 8-bit FP, E4M3), NaN for S.1111.111. */
    private static final double[] CODES = new double[256];

    static {
        for (int b = 0; b < 256; b++) {
            CODES[b] = OcpE4m3.value(b);
        }
    }

    /**
     * The nearest finite code to {@code x} by a linear scan of the non-negative codes 0x00 … 0x7E (ties to the even
     * code), with the sign of {@code x} (zero's too). Beyond 448 the nearest finite code is 448: saturation.
     */
    static int nearest(float x) {
        double a = Math.abs(x);
        int best = 0;
        for (int b = 1; b < 0x7F; b++) {
            double d = Math.abs(CODES[b] - a);
            double db = Math.abs(CODES[best] - a);
            if (d < db || (d == db && (b & 1) == 0)) {
                best = b;
            }
        }
        return best | (Math.copySign(1f, x) < 0 ? 0x80 : 0);
    }

    @Test
    void encodingIsTheNearestOfAll256CodesTiesToEvenSaturating() {
        SplittableRandom r = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            // magnitudes from 2^-12 (below the smallest subnormal) to 2^10 (beyond 448), both signs
            float x = (float) ((r.nextBoolean() ? 1 : -1) * Math.pow(2, r.nextDouble(-12, 10)));
            check(x);
        }
        for (int b = 0; b < 127; b++) { // every midpoint between neighbouring finite codes, and the codes themselves
            double lo = CODES[b];
            double hi = b + 1 < 0x7F ? CODES[b + 1] : 480;
            for (double v : new double[] {lo, (lo + hi) / 2}) {
                check((float) v);
                check((float) -v);
                check(Math.nextUp((float) v));
                check(Math.nextDown((float) v));
            }
        }
        for (float x : new float[] {0f, -0f, 448f, 464f, 500f, 1e30f, Float.MAX_VALUE, Float.POSITIVE_INFINITY,
                Float.NEGATIVE_INFINITY}) {
            check(x);
        }
    }

    private static void check(float x) {
        int got = Fp8Quantizer.encodeSaturating(x) & 0xFF;
        int expected = nearest(Math.max(-448f, Math.min(448f, x)));
        if (got != expected) {
            fail("encode(%s) = 0x%02x (%s), the nearest code is 0x%02x (%s)".formatted(x, got, CODES[got], expected,
                    CODES[expected]));
        }
        assertTrue(!Double.isNaN(CODES[got]), "never NaN");
    }

    @Test
    void perTensorScaleIsAbsMaxOver448AndEveryElementRoundsToItsNearestCode() {
        SplittableRandom r = new SplittableRandom(3);
        int rows = 37;
        int cols = 53;
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (r.nextGaussian() * 0.02);
        }
        w[101] = -0.3f; // the largest magnitude, negative
        Fp8Quantizer.Quantized q = Fp8Quantizer.quantize(w, rows, cols, false);
        assertEquals(1, q.scales().length);
        assertEquals(0.3f / 448f, q.scales()[0]);
        assertEquals(0xFE, q.e4m3()[101] & 0xFF, "the absmax element becomes -448");
        for (int i = 0; i < w.length; i++) {
            assertEquals(nearest(w[i] / q.scales()[0]), q.e4m3()[i] & 0xFF, "element " + i);
            double back = CODES[q.e4m3()[i] & 0xFF] * q.scales()[0];
            // half a step of 3 mantissa bits, or half the subnormal step 2^-10 (in units of the scale)
            double bound = Math.max(Math.abs(w[i]) * 0x1p-4, 0x1p-10 * q.scales()[0]) * (1 + 1e-6);
            assertTrue(Math.abs(back - w[i]) <= bound, "element " + i + ": " + w[i] + " -> " + back);
        }
    }

    @Test
    void perChannelScalesAreEachRowsAbsMaxOver448AndAZeroRowGetsScaleOne() {
        SplittableRandom r = new SplittableRandom(5);
        int rows = 9;
        int cols = 40;
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            int row = i / cols;
            w[i] = row == 4 ? 0f : (float) (r.nextGaussian() * Math.pow(10, row - 4));
        }
        Fp8Quantizer.Quantized q = Fp8Quantizer.quantize(w, rows, cols, true);
        assertEquals(rows, q.scales().length);
        for (int row = 0; row < rows; row++) {
            float absMax = 0;
            for (int c = 0; c < cols; c++) {
                absMax = Math.max(absMax, Math.abs(w[row * cols + c]));
            }
            assertEquals(row == 4 ? 1f : absMax / 448f, q.scales()[row], "row " + row);
            for (int c = 0; c < cols; c++) {
                int i = row * cols + c;
                assertEquals(nearest(w[i] / q.scales()[row]), q.e4m3()[i] & 0xFF, "element " + i);
            }
        }
    }

    @Test
    void refusesNonFiniteValuesAndAWrongCount() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Fp8Quantizer.quantize(new float[] {1f, Float.NaN}, 1, 2, false));
        assertTrue(e.getMessage().contains("element 1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Fp8Quantizer.quantize(new float[] {1f, Float.NEGATIVE_INFINITY}, 2, 1, true));
        assertThrows(IllegalArgumentException.class, () -> Fp8Quantizer.quantize(new float[3], 2, 2, false));
    }
}
