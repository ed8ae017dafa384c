package io.rocketkv.core.kernels.dense;

/**
 * The reference twin of the SIMD kernels: plain Java, one fp32 multiply-add at a time (four running sums in a
 * dot product, a double sum of squares in rmsNorm), each weight row decoded into a float array before use.
 */
public final class ScalarDenseOps implements DenseOps {

    public static final ScalarDenseOps INSTANCE = new ScalarDenseOps();

    private static final int MATMUL_ROWS_PER_TASK = 16;

    private ScalarDenseOps() {
    }

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void matmul(float[] x, int rows, WeightMatrix w, float[] bias, float[] out, Parallel parallel) {
        int k = w.k();
        int n = w.n();
        int tasks = (n + MATMUL_ROWS_PER_TASK - 1) / MATMUL_ROWS_PER_TASK;
        parallel.forEach(tasks, (long) rows * n * k, task -> {
            float[] wrow = new float[k];
            int end = Math.min(n, (task + 1) * MATMUL_ROWS_PER_TASK);
            for (int j = task * MATMUL_ROWS_PER_TASK; j < end; j++) {
                WeightRows.decode(w, j, 0, wrow, 0, k);
                float bj = bias == null ? 0f : bias[j];
                for (int r = 0; r < rows; r++) {
                    out[r * n + j] = dot(x, r * k, wrow, 0, k) + bj;
                }
            }
        });
    }

    @Override
    public void rmsNorm(float[] x, int rows, int h, float[] w, float eps, float[] out) {
        for (int r = 0; r < rows; r++) {
            int base = r * h;
            double ss = 0;
            for (int i = 0; i < h; i++) {
                ss += (double) x[base + i] * x[base + i];
            }
            float inv = (float) (1.0 / Math.sqrt((float) (ss / h) + eps));
            for (int i = 0; i < h; i++) {
                out[base + i] = w[i] * (x[base + i] * inv);
            }
        }
    }

    @Override
    public void siluMul(float[] g, float[] u, float[] o, int n, Parallel parallel) {
        for (int i = 0; i < n; i++) {
            float v = g[i];
            o[i] = v / (1f + (float) Math.exp(-v)) * u[i];
        }
    }

    @Override
    public void add(float[] a, float[] b, int n) {
        for (int i = 0; i < n; i++) {
            a[i] += b[i];
        }
    }

    /** {@code a[ao …] · b[bo …]} over {@code n} elements, four running sums. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        float s0 = 0f, s1 = 0f, s2 = 0f, s3 = 0f;
        int i = 0;
        for (; i + 3 < n; i += 4) {
            s0 += a[ao + i] * b[bo + i];
            s1 += a[ao + i + 1] * b[bo + i + 1];
            s2 += a[ao + i + 2] * b[bo + i + 2];
            s3 += a[ao + i + 3] * b[bo + i + 3];
        }
        for (; i < n; i++) {
            s0 += a[ao + i] * b[bo + i];
        }
        return (s0 + s1) + (s2 + s3);
    }
}
