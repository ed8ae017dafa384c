package io.rocketkv.core.sparse;

/**
 * The two fp32 loops both RocketKV stages are made of.
 *
 * <p>{@link #axpy} indexes both arrays with the same loop variable: HotSpot's C2 vectorises such a loop (AVX2 /
 * AVX-512) even though it cannot prove the arrays distinct, whereas {@code y[j] += a * x[off + j]} stays scalar
 * (measured: about 23 versus 3.4 GFLOP/s on one core). Callers therefore keep rows as separate {@code float[]}s.
 */
final class ScoreKernels {

    private ScoreKernels() {
    }

    /** {@code y[j] += a * x[j]} for {@code j in [from, to)}, fp32 (no fused multiply-add). */
    static void axpy(float a, float[] x, float[] y, int from, int to) {
        for (int j = from; j < to; j++) {
            y[j] += a * x[j];
        }
    }

    /**
     * {@code acc[j] += softmax(x[0 .. n))[j]}, overwriting x with the exponentials. fp32 row maximum subtracted,
     * {@link Math#exp} of the fp32 difference rounded to fp32, the row's sum in {@code double}, the fp32 probability
     * {@code e * (float) (1 / sum)} added in fp32.
     */
    static void softmaxAccumulate(float[] x, int n, float[] acc) {
        float max = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, x[j]);
        }
        double sum = 0;
        for (int j = 0; j < n; j++) {
            float e = (float) Math.exp(x[j] - max);
            x[j] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int j = 0; j < n; j++) {
            acc[j] += x[j] * inv;
        }
    }
}
