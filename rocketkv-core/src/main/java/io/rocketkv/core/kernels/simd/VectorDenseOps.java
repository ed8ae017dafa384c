package io.rocketkv.core.kernels.simd;

import static io.rocketkv.core.kernels.simd.WeightVectors.F;
import static io.rocketkv.core.kernels.simd.WeightVectors.L;

import io.rocketkv.core.kernels.dense.DenseOps;
import io.rocketkv.core.kernels.dense.WeightMatrix;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;

/**
 * The dense ops on the Vector API (loaded by name, only where {@code jdk.incubator.vector} is present): matmul as
 * {@link VectorMatmul}; rmsNorm with two fp32 vector sums of squares; siluMul with {@link Lanes#exp}; add
 * lane-wise. Reductions and exp give the same bits compiled or interpreted ({@link Lanes}). fp32 throughout, sums in another order than
 * {@link io.rocketkv.core.kernels.dense.ScalarDenseOps}.
 */
public final class VectorDenseOps implements DenseOps {

    /** Elements of siluMul per task. */
    private static final int SILU_CHUNK = 1 << 14;

    public VectorDenseOps() {
    }

    @Override
    public String name() {
        return "simd";
    }

    @Override
    public void matmul(float[] x, int rows, WeightMatrix w, float[] bias, float[] out, Parallel parallel) {
        VectorMatmul.matmul(x, rows, w, bias, out, parallel);
    }

    @Override
    public void rmsNorm(float[] x, int rows, int h, float[] w, float eps, float[] out) {
        int hv = h - h % L;
        for (int r = 0; r < rows; r++) {
            int base = r * h;
            FloatVector s0 = FloatVector.zero(F);
            FloatVector s1 = s0;
            int i = 0;
            for (; i + 2 * L <= hv; i += 2 * L) {
                FloatVector a = FloatVector.fromArray(F, x, base + i);
                FloatVector b = FloatVector.fromArray(F, x, base + i + L);
                s0 = a.fma(a, s0);
                s1 = b.fma(b, s1);
            }
            for (; i < hv; i += L) {
                FloatVector a = FloatVector.fromArray(F, x, base + i);
                s0 = a.fma(a, s0);
            }
            float ss = Lanes.sum(s0.add(s1));
            for (; i < h; i++) {
                ss += x[base + i] * x[base + i];
            }
            float inv = (float) (1.0 / Math.sqrt(ss / h + eps));
            for (i = 0; i < hv; i += L) {
                FloatVector.fromArray(F, x, base + i).mul(inv).mul(FloatVector.fromArray(F, w, i))
                        .intoArray(out, base + i);
            }
            for (; i < h; i++) {
                out[base + i] = w[i] * (x[base + i] * inv);
            }
        }
    }

    @Override
    public void siluMul(float[] g, float[] u, float[] o, int n, Parallel parallel) {
        int tasks = (n + SILU_CHUNK - 1) / SILU_CHUNK;
        parallel.forEach(tasks, 16L * n, task -> {
            int from = task * SILU_CHUNK;
            int to = Math.min(n, from + SILU_CHUNK);
            // every element through the same vector exp (the tail masked), so that an element's value does not
            // depend on where it falls, that is on how many rows the call had
            for (int i = from; i < to; i += L) {
                VectorMask<Float> m = F.indexInRange(i, to);
                FloatVector v = FloatVector.fromArray(F, g, i, m);
                FloatVector e = Lanes.exp(v.neg());
                v.div(e.add(1f)).mul(FloatVector.fromArray(F, u, i, m)).intoArray(o, i, m);
            }
        });
    }

    @Override
    public void add(float[] a, float[] b, int n) {
        int i = 0;
        for (; i + L <= n; i += L) {
            FloatVector.fromArray(F, a, i).add(FloatVector.fromArray(F, b, i)).intoArray(a, i);
        }
        for (; i < n; i++) {
            a[i] += b[i];
        }
    }
}
