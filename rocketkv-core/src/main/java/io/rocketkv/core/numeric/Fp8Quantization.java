package io.rocketkv.core.numeric;

/**
 * Per-tensor dynamic fp8 (e4m3) quantization, as the CUDA backend quantizes a GEMM's activations for an fp8 weight
 * ({@code fp8_quant.cu}, whose CPU twin this is): one scale for the whole tensor, {@code max|x| / 448} (1 when every
 * element is 0; NaN elements are skipped), each element stored as {@code e4m3(x / scale)} with
 * {@link Fp8E4M3#encode}'s rounding, so the largest magnitude lands on 448.
 */
public final class Fp8Quantization {

    private Fp8Quantization() {
    }

    /** The scale for {@code x}: {@code max|x| / 448} in float arithmetic, or 1 when {@code max|x|} is 0. */
    public static float perTensorScale(float[] x) {
        float amax = 0f;
        for (float v : x) {
            float a = Math.abs(v);
            if (a > amax) { // false for NaN
                amax = a;
            }
        }
        return amax > 0f ? amax / 448f : 1f;
    }

    /** Writes e4m3(x[i] / scale) into {@code out} and returns the scale ({@link #perTensorScale}). */
    public static float perTensor(float[] x, byte[] out) {
        if (out.length < x.length) {
            throw new IllegalArgumentException("out holds " + out.length + " codes for " + x.length + " values");
        }
        float scale = perTensorScale(x);
        for (int i = 0; i < x.length; i++) {
            out[i] = Fp8E4M3.encode(x[i] / scale);
        }
        return scale;
    }
}
