package io.rocketkv.core.weights;

import io.rocketkv.core.numeric.Fp8E4M3;
import java.util.Objects;

/**
 * Absmax fp8 quantization of a weight matrix {@code [rows, cols]}, as ModelOpt's FP8 recipe scales weights:
 * {@code scale = max|w| / 448} over the tensor (or over each output row, per channel), {@code q = e4m3(w / scale)}
 * rounded to nearest even and saturated to ±448 (so the largest magnitude maps to 448 and no NaN is ever written),
 * and {@code w ≈ e4m3(q) · scale}. An all-zero tensor (or row) gets scale 1.
 */
public final class Fp8Quantizer {

    private Fp8Quantizer() {
    }

    /**
     * A quantized matrix.
     *
     * @param e4m3   {@code rows · cols} e4m3 bit patterns, row-major
     * @param scales one scale per tensor, or one per row
     */
    public record Quantized(byte[] e4m3, float[] scales) {
        public Quantized {
            Objects.requireNonNull(e4m3, "e4m3");
            Objects.requireNonNull(scales, "scales");
        }
    }

    /**
     * Quantizes {@code w} ({@code [rows, cols]} row-major).
     *
     * @throws IllegalArgumentException when {@code w} does not hold {@code rows · cols} values or holds NaN or ±Infinity
     */
    public static Quantized quantize(float[] w, int rows, int cols, boolean perChannel) {
        if (rows < 0 || cols < 0 || (long) rows * cols != w.length) {
            throw new IllegalArgumentException("a [" + rows + ", " + cols + "] matrix needs " + (long) rows * cols
                    + " values, got " + w.length);
        }
        for (int i = 0; i < w.length; i++) {
            if (!Float.isFinite(w[i])) {
                throw new IllegalArgumentException("element " + i + " is " + w[i] + ": only finite weights quantize");
            }
        }
        float[] scales = new float[perChannel ? rows : 1];
        if (perChannel) {
            for (int r = 0; r < rows; r++) {
                scales[r] = scale(absMax(w, (long) r * cols, cols));
            }
        } else {
            scales[0] = scale(absMax(w, 0, w.length));
        }
        byte[] q = new byte[w.length];
        for (int r = 0; r < rows; r++) {
            float s = scales[perChannel ? r : 0];
            for (int c = 0; c < cols; c++) {
                int i = r * cols + c;
                q[i] = encodeSaturating(w[i] / s);
            }
        }
        return new Quantized(q, scales);
    }

    /** {@code max|w| / 448}; 1 for zero (any scale reproduces zeros), the smallest float where it would underflow. */
    static float scale(float absMax) {
        if (absMax == 0f) {
            return 1f;
        }
        return Math.max(absMax / Fp8E4M3.MAX_VALUE, Float.MIN_VALUE);
    }

    /** {@code v} rounded to e4m3, nearest even, clamped to ±448 first so that an overflowing quotient saturates. */
    static byte encodeSaturating(float v) {
        return Fp8E4M3.encode(Math.max(-Fp8E4M3.MAX_VALUE, Math.min(Fp8E4M3.MAX_VALUE, v)));
    }

    private static float absMax(float[] w, long from, long count) {
        float m = 0f;
        for (long i = from; i < from + count; i++) {
            m = Math.max(m, Math.abs(w[(int) i]));
        }
        return m;
    }
}
