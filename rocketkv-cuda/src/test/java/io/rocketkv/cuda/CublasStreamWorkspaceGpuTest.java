package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import io.rocketkv.core.numeric.DType;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The GEMMs the backend issues (f32 and bf16, including the one-row decode shape) on every stream and
 * workspace combination it may use: the legacy stream or a created one, cuBLAS's own workspace or ours.
 */
@RequiresCuda
class CublasStreamWorkspaceGpuTest {

    @ParameterizedTest(name = "created stream {0}, own workspace {1}, m {2}")
    @CsvSource({"false, false, 1", "true, false, 1", "false, true, 1", "true, true, 1", "true, true, 7"})
    void f32AndBf16GemmsRun(boolean createdStream, boolean workspace, int m) {
        CudaContext ctx = Gpu.context();
        int n = 320;
        int k = 64;
        Random r = new Random(m);
        float[] x = Gpu.gaussian(r, m * k, 1f);
        float[] w = Gpu.gaussian(r, n * k, 0.1f);
        float[] expected = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int c = 0; c < k; c++) {
                    s += (double) x[i * k + c] * w[j * k + c];
                }
                expected[i * n + j] = (float) s;
            }
        }
        try (Cublas blas = Cublas.create(ctx); CudaStream stream = createdStream ? ctx.createStream(false) : null;
             DeviceBuffer ws = ctx.allocate(32L << 20); DeviceBuffer xb = ctx.allocate(m * k * 4L);
             DeviceBuffer wb = ctx.allocate(n * k * 4L); DeviceBuffer ob = ctx.allocate(m * n * 4L)) {
            if (stream != null) {
                blas.setStream(stream);
            }
            if (workspace) {
                blas.setWorkspace(ws);
            }
            xb.copyFrom(x);
            wb.copyFrom(w);
            blas.gemmF32(xb, wb, ob, m, n, k);
            ctx.synchronize();
            float[] got = ob.toFloatArray(m * n);
            for (int i = 0; i < got.length; i++) {
                org.junit.jupiter.api.Assertions.assertEquals(expected[i], got[i], 1e-3, "f32 element " + i);
            }
        }
    }
}
