package io.rocketkv.benchmarks.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The reordered q/k rows under llama.cpp's RoPE (adjacent channel pairs) give the attention scores that the
 * Hugging Face rows give under rotate-half RoPE (channel i with i + headDim/2), each RoPE written out here.
 */
class RotaryRowOrderTest {

    @Test
    void interleavedRopeOnReorderedRowsGivesTheSameScores() {
        SplittableRandom rnd = new SplittableRandom(7);
        int heads = 3;
        int headDim = 10;
        int cols = 13;
        double theta = 10000;
        float[] wq = random(rnd, heads * headDim * cols);
        float[] wk = random(rnd, heads * headDim * cols);
        float[] x = random(rnd, cols);
        float[] y = random(rnd, cols);
        double[] qHf = rotateHalf(matvec(wq, x, cols), headDim, 17, theta);
        double[] kHf = rotateHalf(matvec(wk, y, cols), headDim, 5, theta);
        double[] qCpp = rotateAdjacent(matvec(RotaryRowOrder.toInterleaved(wq, heads, headDim, cols), x, cols), headDim, 17, theta);
        double[] kCpp = rotateAdjacent(matvec(RotaryRowOrder.toInterleaved(wk, heads, headDim, cols), y, cols), headDim, 5, theta);
        for (int h = 0; h < heads; h++) {
            double hf = 0;
            double cpp = 0;
            for (int c = 0; c < headDim; c++) {
                hf += qHf[h * headDim + c] * kHf[h * headDim + c];
                cpp += qCpp[h * headDim + c] * kCpp[h * headDim + c];
            }
            assertEquals(hf, cpp, 1e-9 * Math.max(1, Math.abs(hf)), "head " + h);
            for (int i = 0; i < headDim / 2; i++) { // the same rotated channels, adjacent instead of half apart
                assertEquals(qHf[h * headDim + i], qCpp[h * headDim + 2 * i], 1e-9);
                assertEquals(qHf[h * headDim + headDim / 2 + i], qCpp[h * headDim + 2 * i + 1], 1e-9);
            }
        }
    }

    @Test
    void sizesThatDoNotDescribeTheMatrixAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> RotaryRowOrder.toInterleaved(new float[24], 2, 3, 4));
        assertThrows(IllegalArgumentException.class, () -> RotaryRowOrder.toInterleaved(new float[24], 2, 4, 4));
    }

    private static double[] rotateHalf(double[] v, int headDim, int pos, double theta) {
        double[] out = v.clone();
        int half = headDim / 2;
        for (int base = 0; base < v.length; base += headDim) {
            for (int i = 0; i < half; i++) {
                double a = pos * Math.pow(theta, -2.0 * i / headDim);
                out[base + i] = v[base + i] * Math.cos(a) - v[base + half + i] * Math.sin(a);
                out[base + half + i] = v[base + half + i] * Math.cos(a) + v[base + i] * Math.sin(a);
            }
        }
        return out;
    }

    private static double[] rotateAdjacent(double[] v, int headDim, int pos, double theta) {
        double[] out = v.clone();
        for (int base = 0; base < v.length; base += headDim) {
            for (int i = 0; i < headDim / 2; i++) {
                double a = pos * Math.pow(theta, -2.0 * i / headDim);
                out[base + 2 * i] = v[base + 2 * i] * Math.cos(a) - v[base + 2 * i + 1] * Math.sin(a);
                out[base + 2 * i + 1] = v[base + 2 * i + 1] * Math.cos(a) + v[base + 2 * i] * Math.sin(a);
            }
        }
        return out;
    }

    private static double[] matvec(float[] w, float[] x, int cols) {
        double[] out = new double[w.length / cols];
        for (int r = 0; r < out.length; r++) {
            for (int c = 0; c < cols; c++) {
                out[r] += (double) w[r * cols + c] * x[c];
            }
        }
        return out;
    }

    private static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        return a;
    }
}
