package io.rocketkv.core.kernels.simd;

import static io.rocketkv.core.kernels.simd.WeightVectors.F;
import static io.rocketkv.core.kernels.simd.WeightVectors.L;

import io.rocketkv.core.kernels.dense.DenseOps.Parallel;
import io.rocketkv.core.kernels.dense.WeightFormat;
import io.rocketkv.core.kernels.dense.WeightMatrix;
import io.rocketkv.core.kernels.dense.WeightRows;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;

/**
 * {@code out[rows, n] = x[rows, k] · w[n, k]ᵀ (+ bias)} on the Vector API, two kernels:
 *
 * <ul>
 *   <li><b>rows below {@link #GEMM_MIN_ROWS}</b> (decode): four weight rows at a time are read once from their
 *       segment and widened in registers, one FMA accumulator per weight row and x row; memory-bound, so the aim is
 *       to stream the weights at the memory bandwidth.
 *   <li><b>more rows</b> (prefill): register-blocked. Each task widens {@link #TASK_COLS} weight rows into an fp32
 *       panel once; a 4 × 4 micro-kernel then keeps 16 accumulators in registers (4 x rows × 4 weight rows), each
 *       step loading four x vectors and four weight vectors for 16 FMAs, so every weight vector loaded serves four
 *       tokens and every x vector four outputs.
 * </ul>
 *
 * <p>Both compute every output element with the same operations in the same order (lane l sums the products of
 * elements {@code l, l + L, …} by FMA, the lanes are reduced, the last {@code k mod L} products are summed one at a
 * time and added, then the bias), so an element does not depend on how many rows the call had or on which kernel
 * ran: a token's logits are the same whatever it was batched with. The lane reduction is {@link Lanes#sum}, the
 * same bits compiled or not. Quantized weights are dequantized
 * ({@code scale · q}, exact in fp32 for Q8_0/Q4_0 only up to one rounding) before the product in both kernels.
 * The order differs from the scalar twin's (four running sums): results differ from it by fp32 reassociation.
 */
final class VectorMatmul {

    /** From this many x rows the register-blocked kernel runs (below, the streaming kernel). */
    static final int GEMM_MIN_ROWS = 8;
    /** x rows and weight rows of the micro-kernel. */
    private static final int MB = 4;
    /** Weight rows per register-blocked task (a multiple of {@link #MB}). */
    private static final int TASK_COLS = 4 * MB;
    /** Weight rows per streaming task. */
    private static final int STREAM_COLS = 16;

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[2][]);

    private VectorMatmul() {
    }

    static void matmul(float[] x, int rows, WeightMatrix w, float[] bias, float[] out, Parallel parallel) {
        if (rows <= 0 || w.n() == 0) {
            return;
        }
        if (rows < GEMM_MIN_ROWS) {
            stream(x, rows, w, bias, out, parallel);
        } else {
            blocked(x, rows, w, bias, out, parallel);
        }
    }

    private static float[] scratch(int slot, int length) {
        float[][] s = SCRATCH.get();
        if (s[slot] == null || s[slot].length < length) {
            s[slot] = new float[length];
        }
        return s[slot];
    }

    /** The reduced accumulator plus the last {@code k − kv} products, summed one at a time; then the bias. */
    private static float finish(FloatVector acc, float[] x, int xo, float[] w, int wo, int kv, int k, float bias) {
        float s = Lanes.sum(acc);
        if (kv < k) {
            float t = 0f;
            for (int i = kv; i < k; i++) {
                t += x[xo + i] * w[wo + i - kv];
            }
            s += t;
        }
        return s + bias;
    }

    private static float bias(float[] bias, int j) {
        return bias == null ? 0f : bias[j];
    }

    // ---- streaming kernel (decode) -------------------------------------------------------------------------

    private static void stream(float[] x, int rows, WeightMatrix w, float[] bias, float[] out, Parallel parallel) {
        int n = w.n();
        int tasks = (n + STREAM_COLS - 1) / STREAM_COLS;
        parallel.forEach(tasks, (long) rows * n * w.k(), task -> {
            int j0 = task * STREAM_COLS;
            int j1 = Math.min(n, j0 + STREAM_COLS);
            int k = w.k();
            int kv = k - k % L;
            float[] tails = scratch(0, 4 * (k - kv)); // the last k mod L weights of four rows, decoded
            int j = j0;
            for (; j + 4 <= j1; j += 4) {
                for (int c = 0; c < 4 && kv < k; c++) {
                    WeightRows.decode(w, j + c, kv, tails, c * (k - kv), k - kv);
                }
                for (int r = 0; r < rows; r++) {
                    dot4(x, r, w, j, bias, out, tails);
                }
            }
            for (; j < j1; j++) {
                if (kv < k) {
                    WeightRows.decode(w, j, kv, tails, 0, k - kv);
                }
                for (int r = 0; r < rows; r++) {
                    out[r * n + j] = dot1(x, r, w, j, tails, bias(bias, j));
                }
            }
        });
    }

    /** L weights of row {@code row} from element {@code i} (a multiple of L), widened (and scaled if quantized). */
    private static FloatVector load(WeightMatrix w, int row, long rowByte, int i) {
        MemorySegment seg = w.data();
        return switch (w.format()) {
            case BF16 -> WeightVectors.bf16(seg, rowByte + 2L * i);
            case F16 -> WeightVectors.f16(seg, rowByte + 2L * i);
            case F32 -> WeightVectors.f32(seg, rowByte + 4L * i);
            case Q8_0 -> WeightVectors.q8(seg, rowByte + i).mul(WeightVectors.scale(w, row, i / WeightFormat.BLOCK));
            case Q4_0 -> WeightVectors.q4(seg, rowByte + (long) (i / WeightFormat.BLOCK) * (WeightFormat.BLOCK / 2),
                    i % WeightFormat.BLOCK).mul(WeightVectors.scale(w, row, i / WeightFormat.BLOCK));
        };
    }

    /** out[r, j … j+3] = x[r] · w[j … j+3] (+ bias); tails holds the rows' last k mod L weights. */
    private static void dot4(float[] x, int r, WeightMatrix w, int j, float[] bias, float[] out, float[] tails) {
        int k = w.k();
        int n = w.n();
        int xo = r * k;
        long o0 = w.offset(j, 0);
        long o1 = w.offset(j + 1, 0);
        long o2 = w.offset(j + 2, 0);
        long o3 = w.offset(j + 3, 0);
        FloatVector a0 = FloatVector.zero(F);
        FloatVector a1 = a0;
        FloatVector a2 = a0;
        FloatVector a3 = a0;
        int kv = k - k % L;
        for (int i = 0; i < kv; i += L) {
            FloatVector xv = FloatVector.fromArray(F, x, xo + i);
            a0 = load(w, j, o0, i).fma(xv, a0);
            a1 = load(w, j + 1, o1, i).fma(xv, a1);
            a2 = load(w, j + 2, o2, i).fma(xv, a2);
            a3 = load(w, j + 3, o3, i).fma(xv, a3);
        }
        int t = k - kv;
        int oo = r * n + j;
        out[oo] = finish(a0, x, xo, tails, 0, kv, k, bias(bias, j));
        out[oo + 1] = finish(a1, x, xo, tails, t, kv, k, bias(bias, j + 1));
        out[oo + 2] = finish(a2, x, xo, tails, 2 * t, kv, k, bias(bias, j + 2));
        out[oo + 3] = finish(a3, x, xo, tails, 3 * t, kv, k, bias(bias, j + 3));
    }

    private static float dot1(float[] x, int r, WeightMatrix w, int j, float[] tails, float bias) {
        int k = w.k();
        int xo = r * k;
        long o = w.offset(j, 0);
        FloatVector a = FloatVector.zero(F);
        int kv = k - k % L;
        for (int i = 0; i < kv; i += L) {
            a = load(w, j, o, i).fma(FloatVector.fromArray(F, x, xo + i), a);
        }
        return finish(a, x, xo, tails, 0, kv, k, bias);
    }

    // ---- register-blocked kernel (prefill) -----------------------------------------------------------------

    private static void blocked(float[] x, int rows, WeightMatrix w, float[] bias, float[] out, Parallel parallel) {
        int k = w.k();
        int n = w.n();
        int kv = k - k % L;
        int tasks = (n + TASK_COLS - 1) / TASK_COLS;
        parallel.forEach(tasks, (long) rows * n * k, task -> {
            int j0 = task * TASK_COLS;
            int cols = Math.min(TASK_COLS, n - j0);
            float[] panel = scratch(1, TASK_COLS * k); // [cols, k] fp32, the task's weight rows widened once
            for (int c = 0; c < cols; c++) {
                WeightVectors.widenRow(w, j0 + c, panel, c * k);
            }
            int r = 0;
            for (; r + MB <= rows; r += MB) {
                int c = 0;
                for (; c + MB <= cols; c += MB) {
                    micro(x, r, panel, c, k, kv, bias, j0, n, out);
                }
                for (; c < cols; c++) {
                    for (int rr = r; rr < r + MB; rr++) {
                        out[rr * n + j0 + c] = dotPanel(x, rr * k, panel, c * k, k, kv, bias(bias, j0 + c));
                    }
                }
            }
            for (; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    out[r * n + j0 + c] = dotPanel(x, r * k, panel, c * k, k, kv, bias(bias, j0 + c));
                }
            }
        });
    }

    private static float dotPanel(float[] x, int xo, float[] panel, int po, int k, int kv, float bias) {
        FloatVector a = FloatVector.zero(F);
        for (int i = 0; i < kv; i += L) {
            a = FloatVector.fromArray(F, panel, po + i).fma(FloatVector.fromArray(F, x, xo + i), a);
        }
        return finish(a, x, xo, panel, po + kv, kv, k, bias);
    }

    /**
     * out[r … r+3, j0+c … j0+c+3] from x rows r … r+3 and panel rows c … c+3: 16 accumulators, each step four x
     * vectors and four weight vectors.
     */
    private static void micro(float[] x, int r, float[] panel, int c, int k, int kv, float[] bias, int j0, int n,
                              float[] out) {
        int x0 = r * k, x1 = x0 + k, x2 = x1 + k, x3 = x2 + k;
        int p0 = c * k, p1 = p0 + k, p2 = p1 + k, p3 = p2 + k;
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
        FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
        FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
        FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
        for (int i = 0; i < kv; i += L) {
            FloatVector w0 = FloatVector.fromArray(F, panel, p0 + i);
            FloatVector w1 = FloatVector.fromArray(F, panel, p1 + i);
            FloatVector w2 = FloatVector.fromArray(F, panel, p2 + i);
            FloatVector w3 = FloatVector.fromArray(F, panel, p3 + i);
            FloatVector v = FloatVector.fromArray(F, x, x0 + i);
            a00 = w0.fma(v, a00);
            a01 = w1.fma(v, a01);
            a02 = w2.fma(v, a02);
            a03 = w3.fma(v, a03);
            v = FloatVector.fromArray(F, x, x1 + i);
            a10 = w0.fma(v, a10);
            a11 = w1.fma(v, a11);
            a12 = w2.fma(v, a12);
            a13 = w3.fma(v, a13);
            v = FloatVector.fromArray(F, x, x2 + i);
            a20 = w0.fma(v, a20);
            a21 = w1.fma(v, a21);
            a22 = w2.fma(v, a22);
            a23 = w3.fma(v, a23);
            v = FloatVector.fromArray(F, x, x3 + i);
            a30 = w0.fma(v, a30);
            a31 = w1.fma(v, a31);
            a32 = w2.fma(v, a32);
            a33 = w3.fma(v, a33);
        }
        int o0 = r * n + j0 + c, o1 = o0 + n, o2 = o1 + n, o3 = o2 + n;
        int t0 = p0 + kv, t1 = p1 + kv, t2 = p2 + kv, t3 = p3 + kv; // each panel row's last k mod L weights
        float b0 = bias(bias, j0 + c), b1 = bias(bias, j0 + c + 1), b2 = bias(bias, j0 + c + 2), b3 = bias(bias, j0 + c + 3);
        out[o0] = finish(a00, x, x0, panel, t0, kv, k, b0);
        out[o0 + 1] = finish(a01, x, x0, panel, t1, kv, k, b1);
        out[o0 + 2] = finish(a02, x, x0, panel, t2, kv, k, b2);
        out[o0 + 3] = finish(a03, x, x0, panel, t3, kv, k, b3);
        out[o1] = finish(a10, x, x1, panel, t0, kv, k, b0);
        out[o1 + 1] = finish(a11, x, x1, panel, t1, kv, k, b1);
        out[o1 + 2] = finish(a12, x, x1, panel, t2, kv, k, b2);
        out[o1 + 3] = finish(a13, x, x1, panel, t3, kv, k, b3);
        out[o2] = finish(a20, x, x2, panel, t0, kv, k, b0);
        out[o2 + 1] = finish(a21, x, x2, panel, t1, kv, k, b1);
        out[o2 + 2] = finish(a22, x, x2, panel, t2, kv, k, b2);
        out[o2 + 3] = finish(a23, x, x2, panel, t3, kv, k, b3);
        out[o3] = finish(a30, x, x3, panel, t0, kv, k, b0);
        out[o3 + 1] = finish(a31, x, x3, panel, t1, kv, k, b1);
        out[o3 + 2] = finish(a32, x, x3, panel, t2, kv, k, b2);
        out[o3 + 3] = finish(a33, x, x3, panel, t3, kv, k, b3);
    }
}
