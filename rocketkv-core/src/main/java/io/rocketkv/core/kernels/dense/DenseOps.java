package io.rocketkv.core.kernels.dense;

import java.util.function.IntConsumer;

/**
 * The CPU backend's dense (non-attention) ops on heap fp32 activations, implemented twice: {@link ScalarDenseOps},
 * the plain-Java reference, and the Vector API kernels of {@code io.rocketkv.core.kernels.simd}, tested against it.
 * Shapes: x [rows, k], w [n, k], out [rows, n], all row-major; arrays may be longer than their shape (views of a
 * larger workspace), sizes come from the arguments.
 */
public interface DenseOps {

    /** Runs tasks {@code 0 … tasks−1}, perhaps on several threads; {@code work} (multiply-adds) sizes the fork. */
    @FunctionalInterface
    interface Parallel {
        void forEach(int tasks, long work, IntConsumer body);

        /** Every task on the calling thread, in order. */
        Parallel SEQUENTIAL = (tasks, work, body) -> {
            for (int t = 0; t < tasks; t++) {
                body.accept(t);
            }
        };
    }

    /** "scalar" or "simd". */
    String name();

    /** {@code out[r, j] = x[r, :] · w[j, :] (+ bias[j])}; bias [n] or null. */
    void matmul(float[] x, int rows, WeightMatrix w, float[] bias, float[] out, Parallel parallel);

    /** {@code out[r, :] = x[r, :] / sqrt(mean(x[r, :]²) + eps) · weight}; x, out [rows, h], weight [h]. */
    void rmsNorm(float[] x, int rows, int h, float[] weight, float eps, float[] out);

    /** {@code out[i] = silu(gate[i]) · up[i]} for {@code i < n}. */
    void siluMul(float[] gate, float[] up, float[] out, int n, Parallel parallel);

    /** {@code x[i] += y[i]} for {@code i < n}. */
    void add(float[] x, float[] y, int n);
}
