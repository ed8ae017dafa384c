package io.rocketkv.core.kernels.simd;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.kernels.dense.DenseOps;
import io.rocketkv.core.kernels.dense.ScalarDenseOps;
import io.rocketkv.core.kernels.dense.WeightFormat;
import io.rocketkv.core.kernels.dense.WeightMatrix;
import io.rocketkv.core.kernels.dense.WeightQuantizer;
import io.rocketkv.core.kernels.dense.WeightRows;
import io.rocketkv.core.numeric.NumericFormats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The Vector API dense ops against their scalar twin on seeded random inputs of awkward shapes: k not a multiple
 * of the vector length, n not a multiple of the micro-kernel's 6 columns or of a task's rows, 1 row (decode) to
 * more than two micro-kernel row blocks (prefill), every weight format, with and without bias, on one thread and
 * on a fork of 3.
 *
 * <p>Tolerance of matmul: both kernels sum the same fp32 products in a different order. Each recursive fp32 sum of
 * k terms is within {@code γ_k · Σ|xᵢwᵢ|} of the exact sum ({@code γ_k ≈ k·u}, u = 2⁻²⁴; Higham, Accuracy and
 * Stability, §4.2), and adding the bias rounds once more, so the two results may differ by
 * {@code 2(k+1)·u·(Σ|xᵢwᵢ| + |bⱼ|)}. A wrong element, row or column errs by the size of a product, far above it.
 */
class VectorDenseOpsTest {

    private static final double U = 0x1p-24;

    private final DenseOps simd = new VectorDenseOps();
    private final DenseOps scalar = ScalarDenseOps.INSTANCE;
    private final SplittableRandom rnd = new SplittableRandom(7);
    private final Arena arena = Arena.ofAuto();

    /** A fork of 3 threads, so tasks run out of order and concurrently. */
    private static final DenseOps.Parallel FORK =
            (tasks, work, body) -> IntStream.range(0, tasks).parallel().forEach(body);

    private float[] random(int n, double scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextDouble(-scale, scale);
        }
        return a;
    }

    private WeightMatrix floatMatrix(WeightFormat f, int n, int k) {
        float[] w = random(n * k, 1);
        MemorySegment seg = arena.allocate((long) n * k * f.byteSize() + 16, 1).asSlice(3, (long) n * k * f.byteSize());
        NumericFormats.encode(WeightRows.dtype(f), w, 0, seg, 0, n * k); // unaligned on purpose
        return new WeightMatrix(f, n, k, seg, null);
    }

    @ParameterizedTest(name = "{0} rows={1} k={2} n={3} bias={4}")
    @CsvSource({
        "BF16, 1, 1, 1, false", "BF16, 1, 67, 131, true", "BF16, 3, 130, 37, false", "BF16, 7, 33, 5, true",
        "BF16, 8, 67, 13, true", "BF16, 33, 100, 29, false", "BF16, 70, 47, 50, true", "BF16, 9, 16, 24, false",
        "F16, 1, 67, 131, true", "F16, 5, 31, 9, false", "F16, 40, 130, 25, true", "F16, 8, 8, 6, false",
        "F32, 1, 67, 131, true", "F32, 2, 1, 17, false", "F32, 35, 97, 31, true", "F32, 64, 64, 48, false",
    })
    void matmulMatchesScalarTwin(WeightFormat f, int rows, int k, int n, boolean withBias) {
        checkMatmul(floatMatrix(f, n, k), rows, withBias);
    }

    @ParameterizedTest(name = "{0} rows={1} k={2} n={3} bias={4}")
    @CsvSource({
        "Q8_0, 1, 32, 1, false", "Q8_0, 1, 96, 131, true", "Q8_0, 3, 64, 37, false", "Q8_0, 33, 160, 29, true",
        "Q4_0, 1, 32, 7, true", "Q4_0, 2, 96, 131, false", "Q4_0, 9, 64, 13, true", "Q4_0, 40, 128, 25, false",
    })
    void quantizedMatmulMatchesScalarTwin(WeightFormat f, int rows, int k, int n, boolean withBias) {
        MemorySegment src = floatMatrix(WeightFormat.F32, n, k).data();
        checkMatmul(WeightQuantizer.quantize(f, io.rocketkv.core.numeric.DType.F32, src, n, k), rows, withBias);
    }

    /**
     * A row's outputs do not depend on the rows it is computed with: alone (the streaming kernel), among 13 (the
     * register-blocked kernel, in a 4 × 4 micro-tile and in the row tail) they are bit-identical, so a token's
     * logits are the same whatever the engine batched it with.
     */
    @ParameterizedTest
    @CsvSource({"BF16, 67, 21", "F16, 64, 18", "F32, 45, 7", "Q8_0, 96, 19", "Q4_0, 64, 22"})
    void aRowsOutputsDoNotDependOnTheOtherRows(WeightFormat f, int k, int n) {
        WeightMatrix w = f.quantized()
                ? WeightQuantizer.quantize(f, io.rocketkv.core.numeric.DType.F32, floatMatrix(WeightFormat.F32, n, k).data(), n, k)
                : floatMatrix(f, n, k);
        int rows = 13;
        float[] x = random(rows * k, 1);
        float[] bias = random(n, 1);
        float[] all = new float[rows * n];
        simd.matmul(x, rows, w, bias, all, FORK);
        for (int r : new int[] {0, 5, 12}) { // in a micro-tile, in another, in the row tail
            float[] one = new float[n];
            simd.matmul(java.util.Arrays.copyOfRange(x, r * k, (r + 1) * k), 1, w, bias, one, DenseOps.Parallel.SEQUENTIAL);
            assertArrayEquals(java.util.Arrays.copyOfRange(all, r * n, (r + 1) * n), one, f + " row " + r);
        }
    }

    @Test
    void matmulReadsHeapFloatArrays() {
        int n = 19, k = 45;
        float[] w = random(n * k, 1);
        WeightMatrix m = new WeightMatrix(WeightFormat.F32, n, k, MemorySegment.ofArray(w), null);
        checkMatmul(m, 1, true);
        checkMatmul(m, 17, false);
    }

    void checkMatmul(WeightMatrix w, int rows, boolean withBias) {
        int n = w.n();
        int k = w.k();
        float[] x = random(rows * k + 5, 1); // longer than the shape: a view of a larger workspace
        float[] bias = withBias ? random(n, 1) : null;
        for (DenseOps.Parallel p : new DenseOps.Parallel[] {DenseOps.Parallel.SEQUENTIAL, FORK}) {
            float[] expected = new float[rows * n];
            float[] actual = new float[rows * n + 3];
            scalar.matmul(x, rows, w, bias, expected, p);
            simd.matmul(x, rows, w, bias, actual, p);
            float[] row = new float[k];
            for (int j = 0; j < n; j++) {
                WeightRows.decode(w, j, 0, row, 0, k);
                for (int r = 0; r < rows; r++) {
                    double mag = withBias ? Math.abs(bias[j]) : 0;
                    for (int i = 0; i < k; i++) {
                        mag += Math.abs((double) x[r * k + i] * row[i]);
                    }
                    double tol = 2 * (k + 1) * U * mag + Float.MIN_NORMAL;
                    float e = expected[r * n + j];
                    float a = actual[r * n + j];
                    if (!(Math.abs(e - a) <= tol)) {
                        throw new AssertionError(w.format() + " rows=" + rows + " k=" + k + " n=" + n + ": out[" + r
                                + ", " + j + "] scalar " + e + ", simd " + a + ", tolerance " + tol);
                    }
                }
            }
            assertArrayEquals(new float[3], java.util.Arrays.copyOfRange(actual, rows * n, rows * n + 3), "past out");
        }
    }

    @Test
    void rmsNormMatchesScalarTwin() {
        for (int h : new int[] {1, 7, 16, 97, 1024}) {
            int rows = 3;
            float[] x = random(rows * h, 2);
            float[] w = random(h, 1);
            float[] expected = new float[rows * h];
            float[] actual = new float[rows * h];
            scalar.rmsNorm(x, rows, h, w, 1e-5f, expected);
            simd.rmsNorm(x, rows, h, w, 1e-5f, actual);
            // the sum of squares in fp32 (vector lanes) against double: relative error ≤ h·u in the mean, half of it
            // in 1/sqrt, plus a few roundings
            double tol = (h / 2.0 + 4) * U;
            for (int i = 0; i < expected.length; i++) {
                assertEquals(expected[i], actual[i], tol * Math.abs(expected[i]) + Float.MIN_NORMAL, "h=" + h + " i=" + i);
            }
        }
    }

    @Test
    void siluMulMatchesScalarTwin() {
        int n = 100_003; // several tasks and a tail
        float[] g = random(n, 12);
        float[] u = random(n, 3);
        g[0] = -100f; // exp overflows to inf: silu is -0
        g[1] = 100f;
        g[2] = 0f;
        float[] expected = new float[n];
        float[] actual = new float[n];
        scalar.siluMul(g, u, expected, n, DenseOps.Parallel.SEQUENTIAL);
        simd.siluMul(g, u, actual, n, FORK);
        // exp within 1 ulp of the double-rounded one, then a division and a product: a few ulps of the result
        for (int i = 0; i < n; i++) {
            assertEquals(expected[i], actual[i], 8 * U * Math.abs(expected[i]) + Float.MIN_NORMAL, "i=" + i);
        }
        // an element's value does not depend on the length of the call (the tail goes through the same exp)
        float[] shorter = new float[n];
        simd.siluMul(g, u, shorter, n - 5, DenseOps.Parallel.SEQUENTIAL);
        assertArrayEquals(java.util.Arrays.copyOf(actual, n - 5), java.util.Arrays.copyOf(shorter, n - 5));
    }

    @Test
    void addEqualsScalarTwin() {
        int n = 1037;
        float[] a = random(n, 1);
        float[] b = random(n, 1);
        float[] expected = a.clone();
        scalar.add(expected, b, n);
        simd.add(a, b, n);
        assertArrayEquals(expected, a); // one rounding per element in both
    }
}
