package io.rocketkv.core.kernels.simd;

import static io.rocketkv.core.kernels.simd.WeightVectors.F;
import static io.rocketkv.core.kernels.simd.WeightVectors.L;

import io.rocketkv.core.kernels.dense.DenseOps.Parallel;
import io.rocketkv.core.kernels.dense.WeightFormat;
import io.rocketkv.core.kernels.dense.WeightMatrix;
import io.rocketkv.core.kernels.dense.WeightRows;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * {@code out[rows, n] = x[rows, k] · w[n, k]ᵀ (+ bias)} on the Vector API, two kernels:
 *
 * <ul>
 *   <li><b>rows below {@link #GEMM_MIN_ROWS}</b> (decode): four weight rows at a time are read once from their
 *       segment and widened in registers, one FMA accumulator per weight row and x row; memory-bound, so the aim is
 *       to stream the weights at the memory bandwidth.
 *   <li><b>more rows</b> (prefill): a register-blocked GEMM. The x block is transposed once per call (x̄[k, rows]);
 *       each task widens {@link #TASK_COLS} weight rows into an fp32 panel once, then a 6 × 2L micro-kernel keeps 12
 *       accumulators in registers (6 weight columns × 2L x rows), each step loading two x̄ vectors and broadcasting
 *       six panel values: every weight value is used for 2L tokens per load, no horizontal reductions.
 * </ul>
 *
 * Both sum in fp32 in another order than the scalar twin (lanes, then a tree); results differ from it by fp32
 * reassociation only.
 */
final class VectorMatmul {

    /** From this many x rows the register-blocked GEMM runs (below, the streaming kernel). */
    static final int GEMM_MIN_ROWS = 8;
    /** Weight columns of the micro-kernel. */
    private static final int MC = 6;
    /** x rows of the micro-kernel: two vectors. */
    private static final int MR = 2 * L;
    /** Weight rows per GEMM task (a multiple of {@link #MC}). */
    private static final int TASK_COLS = 4 * MC;
    /** Weight rows per streaming task. */
    private static final int STREAM_COLS = 16;

    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[4][]);

    private VectorMatmul() {
    }

    static void matmul(float[] x, int rows, WeightMatrix w, float[] bias, float[] out, Parallel parallel) {
        if (rows <= 0 || w.n() == 0) {
            return;
        }
        if (rows < GEMM_MIN_ROWS) {
            stream(x, rows, w, bias, out, parallel);
        } else {
            gemm(x, rows, w, bias, out, parallel);
        }
    }

    private static float[] scratch(int slot, int length) {
        float[][] s = SCRATCH.get();
        if (s[slot] == null || s[slot].length < length) {
            s[slot] = new float[length];
        }
        return s[slot];
    }

    // ---- streaming kernel (decode) -------------------------------------------------------------------------

    private static void stream(float[] x, int rows, WeightMatrix w, float[] bias, float[] out, Parallel parallel) {
        int n = w.n();
        int tasks = (n + STREAM_COLS - 1) / STREAM_COLS;
        parallel.forEach(tasks, (long) rows * n * w.k(), task -> {
            int j0 = task * STREAM_COLS;
            int j1 = Math.min(n, j0 + STREAM_COLS);
            int j = j0;
            for (; j + 4 <= j1; j += 4) {
                for (int r = 0; r < rows; r++) {
                    dot4(x, r, w, j, bias, out);
                }
            }
            for (; j < j1; j++) {
                for (int r = 0; r < rows; r++) {
                    out[r * n + j] = dot1(x, r, w, j) + (bias == null ? 0f : bias[j]);
                }
            }
        });
    }

    private static FloatVector load(WeightFormat f, MemorySegment seg, long byteOffset) {
        return switch (f) {
            case BF16 -> WeightVectors.bf16(seg, byteOffset);
            case F16 -> WeightVectors.f16(seg, byteOffset);
            default -> WeightVectors.f32(seg, byteOffset);
        };
    }

    /** out[r, j … j+3] = x[r] · w[j … j+3] (+ bias). */
    private static void dot4(float[] x, int r, WeightMatrix w, int j, float[] bias, float[] out) {
        int k = w.k();
        int n = w.n();
        int xo = r * k;
        if (w.format().quantized()) {
            for (int c = 0; c < 4; c++) {
                out[r * n + j + c] = dotQuantized(x, xo, w, j + c) + (bias == null ? 0f : bias[j + c]);
            }
            return;
        }
        WeightFormat f = w.format();
        MemorySegment seg = w.data();
        int es = f.byteSize();
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
            long b = (long) i * es;
            a0 = load(f, seg, o0 + b).fma(xv, a0);
            a1 = load(f, seg, o1 + b).fma(xv, a1);
            a2 = load(f, seg, o2 + b).fma(xv, a2);
            a3 = load(f, seg, o3 + b).fma(xv, a3);
        }
        float s0 = a0.reduceLanes(VectorOperators.ADD);
        float s1 = a1.reduceLanes(VectorOperators.ADD);
        float s2 = a2.reduceLanes(VectorOperators.ADD);
        float s3 = a3.reduceLanes(VectorOperators.ADD);
        if (kv < k) {
            s0 += tail(x, xo, w, j, kv);
            s1 += tail(x, xo, w, j + 1, kv);
            s2 += tail(x, xo, w, j + 2, kv);
            s3 += tail(x, xo, w, j + 3, kv);
        }
        int oo = r * n + j;
        out[oo] = s0 + (bias == null ? 0f : bias[j]);
        out[oo + 1] = s1 + (bias == null ? 0f : bias[j + 1]);
        out[oo + 2] = s2 + (bias == null ? 0f : bias[j + 2]);
        out[oo + 3] = s3 + (bias == null ? 0f : bias[j + 3]);
    }

    private static float dot1(float[] x, int r, WeightMatrix w, int j) {
        int k = w.k();
        int xo = r * k;
        if (w.format().quantized()) {
            return dotQuantized(x, xo, w, j);
        }
        WeightFormat f = w.format();
        MemorySegment seg = w.data();
        long o = w.offset(j, 0);
        FloatVector a = FloatVector.zero(F);
        int kv = k - k % L;
        for (int i = 0; i < kv; i += L) {
            a = load(f, seg, o + (long) i * f.byteSize()).fma(FloatVector.fromArray(F, x, xo + i), a);
        }
        float s = a.reduceLanes(VectorOperators.ADD);
        return kv < k ? s + tail(x, xo, w, j, kv) : s;
    }

    /** x[xo + kv …] · w[j, kv …], the last k mod L elements, one at a time. */
    private static float tail(float[] x, int xo, WeightMatrix w, int j, int kv) {
        int k = w.k();
        float[] t = scratch(3, k - kv);
        WeightRows.decode(w, j, kv, t, 0, k - kv);
        float s = 0f;
        for (int i = kv; i < k; i++) {
            s += x[xo + i] * t[i - kv];
        }
        return s;
    }

    /** x[xo …] · w[j] for a quantized row: each block's integer products summed in a vector, then scaled. */
    private static float dotQuantized(float[] x, int xo, WeightMatrix w, int j) {
        int k = w.k();
        MemorySegment seg = w.data();
        long base = w.offset(j, 0);
        boolean q8 = w.format() == WeightFormat.Q8_0;
        FloatVector acc = FloatVector.zero(F);
        for (int i = 0, block = 0; i < k; i += WeightFormat.BLOCK, block++) {
            FloatVector s = FloatVector.zero(F);
            for (int e = 0; e < WeightFormat.BLOCK; e += L) {
                FloatVector q = q8 ? WeightVectors.q8(seg, base + i + e)
                        : WeightVectors.q4(seg, base + block * (WeightFormat.BLOCK / 2L), e);
                s = q.fma(FloatVector.fromArray(F, x, xo + i + e), s);
            }
            acc = s.fma(FloatVector.broadcast(F, WeightVectors.scale(w, j, block)), acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    // ---- register-blocked GEMM (prefill) -------------------------------------------------------------------

    private static void gemm(float[] x, int rows, WeightMatrix w, float[] bias, float[] out, Parallel parallel) {
        int k = w.k();
        int n = w.n();
        int rp = (rows + MR - 1) / MR * MR;
        float[] xt = transpose(x, rows, k, rp);
        int tasks = (n + TASK_COLS - 1) / TASK_COLS;
        parallel.forEach(tasks, (long) rows * n * k, task -> {
            int j0 = task * TASK_COLS;
            int cols = Math.min(TASK_COLS, n - j0);
            float[] panel = scratch(0, TASK_COLS * k);
            for (int c = 0; c < cols; c++) {
                WeightVectors.widenRow(w, j0 + c, panel, c * k);
            }
            int padded = (cols + MC - 1) / MC * MC;
            java.util.Arrays.fill(panel, cols * k, padded * k, 0f);
            float[] tile = scratch(1, MC * MR);
            for (int rb = 0; rb < rp; rb += MR) {
                for (int c0 = 0; c0 < cols; c0 += MC) {
                    micro(xt, rp, rb, panel, c0 * k, k, tile);
                    int cEnd = Math.min(MC, cols - c0);
                    int rEnd = Math.min(MR, rows - rb);
                    for (int c = 0; c < cEnd; c++) {
                        int j = j0 + c0 + c;
                        float bj = bias == null ? 0f : bias[j];
                        for (int r = 0; r < rEnd; r++) {
                            out[(rb + r) * n + j] = tile[c * MR + r] + bj;
                        }
                    }
                }
            }
        });
    }

    /** x̄[i, r] = x[r, i] for r < rows, 0 up to rp: [k, rp] in the calling thread's scratch. */
    private static float[] transpose(float[] x, int rows, int k, int rp) {
        float[] xt = scratch(2, k * rp);
        for (int i = 0; i < k; i++) {
            int o = i * rp;
            for (int r = 0; r < rows; r++) {
                xt[o + r] = x[r * k + i];
            }
            for (int r = rows; r < rp; r++) {
                xt[o + r] = 0f;
            }
        }
        return xt;
    }

    /**
     * tile[c, r] = Σ_i panel[p + c·k + i] · x̄[i, rb + r] for c < 6, r < 2L: 12 accumulators, each step two x̄
     * vectors and six broadcast weights.
     */
    private static void micro(float[] xt, int rp, int rb, float[] panel, int p, int k, float[] tile) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a10 = a00, a11 = a00, a20 = a00, a21 = a00;
        FloatVector a30 = a00, a31 = a00, a40 = a00, a41 = a00, a50 = a00, a51 = a00;
        int p1 = p + k, p2 = p1 + k, p3 = p2 + k, p4 = p3 + k, p5 = p4 + k;
        for (int i = 0, xo = rb; i < k; i++, xo += rp) {
            FloatVector x0 = FloatVector.fromArray(F, xt, xo);
            FloatVector x1 = FloatVector.fromArray(F, xt, xo + L);
            FloatVector b = FloatVector.broadcast(F, panel[p + i]);
            a00 = x0.fma(b, a00);
            a01 = x1.fma(b, a01);
            b = FloatVector.broadcast(F, panel[p1 + i]);
            a10 = x0.fma(b, a10);
            a11 = x1.fma(b, a11);
            b = FloatVector.broadcast(F, panel[p2 + i]);
            a20 = x0.fma(b, a20);
            a21 = x1.fma(b, a21);
            b = FloatVector.broadcast(F, panel[p3 + i]);
            a30 = x0.fma(b, a30);
            a31 = x1.fma(b, a31);
            b = FloatVector.broadcast(F, panel[p4 + i]);
            a40 = x0.fma(b, a40);
            a41 = x1.fma(b, a41);
            b = FloatVector.broadcast(F, panel[p5 + i]);
            a50 = x0.fma(b, a50);
            a51 = x1.fma(b, a51);
        }
        a00.intoArray(tile, 0);
        a01.intoArray(tile, L);
        a10.intoArray(tile, MR);
        a11.intoArray(tile, MR + L);
        a20.intoArray(tile, 2 * MR);
        a21.intoArray(tile, 2 * MR + L);
        a30.intoArray(tile, 3 * MR);
        a31.intoArray(tile, 3 * MR + L);
        a40.intoArray(tile, 4 * MR);
        a41.intoArray(tile, 4 * MR + L);
        a50.intoArray(tile, 5 * MR);
        a51.intoArray(tile, 5 * MR + L);
    }
}
