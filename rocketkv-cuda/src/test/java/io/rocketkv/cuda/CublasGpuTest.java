package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.Bf16;
import io.rocketkv.core.numeric.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * cuBLAS bf16 GEMM ({@code out = x · wᵀ}, fp32 accumulation) against {@code CpuKernels.matmul} on the same
 * bf16 values. Error bound per output: {@code 1e-4 · Σ|x·w|} for fp32 output (both sides accumulate ~1000
 * fp32 products; a layout or transpose mistake errs by O(Σ|x·w|)), plus {@code 1e-2 · |ref|} for bf16
 * output (its rounding).
 */
@RequiresCuda
class CublasGpuTest {

    private static CudaContext ctx;
    private static Cublas blas;

    @BeforeAll
    static void open() {
        ctx = Gpu.context();
        org.junit.jupiter.api.Assumptions.assumeTrue(Cublas.isLibraryAvailable(), "no cuBLAS library here");
        blas = Cublas.create(ctx);
        System.out.println("cuBLAS version " + blas.version());
    }

    @AfterAll
    static void close() {
        if (blas != null) {
            blas.close();
        }
        if (ctx != null) {
            ctx.close();
        }
    }

    static Stream<Arguments> shapes() {
        return Stream.of(1, 17).flatMap(m -> Stream.of(new int[] {1000, 1000}, new int[] {1536, 4096})
                .flatMap(nk -> Stream.of(DType.F32, DType.BF16).map(t -> Arguments.of(m, nk[0], nk[1], t))));
    }

    @ParameterizedTest(name = "m={0} n={1} k={2} out={3}")
    @MethodSource("shapes")
    void gemmMatchesCpuMatmul(int m, int n, int k, DType outType) {
        Random rnd = new Random(1000L * m + n + k);
        float[] x = roundToBf16(Gpu.gaussian(rnd, m * k, 1f));
        float[] w = roundToBf16(Gpu.gaussian(rnd, n * k, 0.05f));
        CpuKernels cpu = new CpuKernels();
        // shared: the parallel CPU matmul reads the bf16 weight segment from pool threads
        try (Arena arena = Arena.ofShared(); DeviceBuffer gx = ctx.allocate(2L * m * k);
             DeviceBuffer gw = ctx.allocate(2L * n * k); DeviceBuffer out = ctx.allocate((long) m * n * outType.byteSize())) {
            MemorySegment xb = bf16(x, arena);
            MemorySegment wb = bf16(w, arena);
            gx.copyFrom(xb);
            gw.copyFrom(wb);
            blas.setStream(ctx.defaultStream());
            blas.gemmBf16(gx, gw, out, m, n, k, outType);
            float[] got = download(out, m * n, outType);

            Tensor cx = cpu.allocate(DType.F32, m, k);
            cpu.upload(x, cx);
            Tensor cout = cpu.allocate(DType.F32, m, n);
            cpu.matmul(cx, cpu.weight(DType.BF16, new int[] {n, k}, wb), null, cout);
            float[] ref = cpu.download(cout);
            check(m, n, k, x, w, ref, got, outType == DType.BF16 ? 1e-2 : 0);
        }
    }

    @Test
    void gemmOnAStreamWithWorkspaceReplaysFromAGraph() {
        int m = 17;
        int n = 1000;
        int k = 1000;
        Random rnd = new Random(5);
        float[] x = roundToBf16(Gpu.gaussian(rnd, m * k, 1f));
        float[] w = roundToBf16(Gpu.gaussian(rnd, n * k, 0.05f));
        try (Arena arena = Arena.ofConfined(); CudaStream stream = ctx.createStream();
             DeviceBuffer workspace = ctx.allocate(32L << 20); DeviceBuffer gx = ctx.allocate(2L * m * k);
             DeviceBuffer gw = ctx.allocate(2L * n * k); DeviceBuffer out = ctx.allocate(4L * m * n);
             Cublas local = Cublas.create(ctx)) {
            gx.copyFrom(bf16(x, arena));
            gw.copyFrom(bf16(w, arena));
            local.setStream(stream);
            local.setWorkspace(workspace);
            local.gemmBf16(gx, gw, out, m, n, k, DType.F32); // loads cuBLAS's kernels before capture
            stream.synchronize();
            out.fill(Float.NaN);
            try (CudaGraph graph = CudaGraph.capture(stream, () -> local.gemmBf16(gx, gw, out, m, n, k, DType.F32))) {
                graph.launch(stream);
                stream.synchronize();
            }
            float[] got = out.toFloatArray();
            double[] ref = new double[m * n];
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int c = 0; c < k; c++) {
                        s += (double) x[i * k + c] * w[j * k + c];
                    }
                    ref[i * n + j] = s;
                }
            }
            float[] reff = new float[ref.length];
            for (int i = 0; i < ref.length; i++) {
                reff[i] = (float) ref[i];
            }
            check(m, n, k, x, w, reff, got, 0);
        }
    }

    @Test
    void badArgumentsAreJavaErrors() {
        try (DeviceBuffer b = ctx.allocate(64)) {
            assertThrows(IllegalArgumentException.class, () -> blas.gemmBf16(b, b, b, 0, 1, 1, DType.F32));
            assertThrows(IllegalArgumentException.class, () -> blas.gemmBf16(b, b, b, 1, 1, 1, DType.F16));
            assertThrows(IllegalArgumentException.class, () -> blas.gemmBf16(b, b, b, 4, 4, 16, DType.F32));
            assertThrows(IllegalArgumentException.class, () -> blas.gemmBf16(b, b, b, 8, 8, 1, DType.BF16));
        }
    }

    private static void check(int m, int n, int k, float[] x, float[] w, float[] ref, float[] got, double rel) {
        int bad = 0;
        StringBuilder first = new StringBuilder();
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double scale = 0;
                for (int c = 0; c < k; c++) {
                    scale += Math.abs((double) x[i * k + c] * w[j * k + c]);
                }
                double e = ref[i * n + j];
                double a = got[i * n + j];
                double allowed = 1e-4 * scale + rel * Math.abs(e) + 1e-6;
                if (!(Math.abs(a - e) <= allowed)) {
                    if (bad++ < 5) {
                        first.append(String.format("%n  [%d,%d] expected %.7g got %.7g (allowed %.3g)", i, j, e, a, allowed));
                    }
                }
            }
        }
        if (bad > 0) {
            fail(bad + " of " + m * n + " outputs differ (m=" + m + " n=" + n + " k=" + k + "):" + first);
        }
        assertTrue(true);
    }

    private static float[] roundToBf16(float[] v) {
        float[] r = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            r[i] = Bf16.decode(Bf16.encode(v[i]));
        }
        return r;
    }

    private static MemorySegment bf16(float[] values, Arena arena) {
        MemorySegment s = arena.allocate(2L * values.length, 2);
        Bf16.encode(values, 0, s, 0, values.length);
        return s;
    }

    private static float[] download(DeviceBuffer out, int count, DType type) {
        if (type == DType.F32) {
            return out.toFloatArray(count);
        }
        short[] bits = new short[count];
        out.copyTo(bits);
        float[] f = new float[count];
        Bf16.decode(bits, 0, f, 0, count);
        return f;
    }
}
