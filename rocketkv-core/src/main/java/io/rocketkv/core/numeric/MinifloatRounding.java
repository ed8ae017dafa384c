package io.rocketkv.core.numeric;

/**
 * Round-to-nearest-even from binary32 to a narrower binary format with {@code mantissaBits} fraction bits and
 * exponent bias {@code bias}, shared by the fp8 formats. Callers pass compile-time constants, so after inlining
 * the JIT folds every format parameter.
 */
final class MinifloatRounding {

    private MinifloatRounding() {
    }

    /**
     * Returns the exponent and mantissa fields (no sign) of the value nearest to the finite, non-negative float
     * whose bits are {@code absBits}, ties to even, clamped to {@code maxMagnitude} (the fields of the largest
     * finite value): a finite input never becomes infinity or NaN.
     */
    static int roundMagnitude(int absBits, int mantissaBits, int bias, int maxMagnitude) {
        int minNormalBits = (1 - bias + 127) << 23; // 2^(1 - bias)
        if (absBits < minNormalBits) {
            // Subnormal in the target (or zero). Adding C = 2^(23 + 1 - bias - mantissaBits) makes the float
            // ulp equal to the target's subnormal step 2^(1 - bias - mantissaBits), so the (exact, RNE) float
            // addition does the rounding; the low bits of the sum are the target mantissa. A sum of 2^mantissaBits
            // steps is the smallest normal, whose fields are exactly that integer.
            int cBits = (23 + 1 - bias - mantissaBits + 127) << 23;
            float sum = Float.intBitsToFloat(absBits) + Float.intBitsToFloat(cBits);
            return Float.floatToRawIntBits(sum) - cBits;
        }
        // Normal in the target: re-bias the exponent, then drop 23 - mantissaBits bits rounding to nearest,
        // ties to even. A carry out of the mantissa correctly increments the exponent.
        int shift = 23 - mantissaBits;
        int rebiased = absBits - ((127 - bias) << 23);
        int rounded = (rebiased + ((1 << (shift - 1)) - 1) + ((rebiased >>> shift) & 1)) >>> shift;
        return Math.min(rounded, maxMagnitude);
    }
}
