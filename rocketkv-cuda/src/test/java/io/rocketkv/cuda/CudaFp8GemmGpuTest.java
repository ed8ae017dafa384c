package io.rocketkv.cuda;

import static io.rocketkv.cuda.GpuTensors.act;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.Fp8E4M3;
import io.rocketkv.core.numeric.Fp8Quantization;
import io.rocketkv.core.weights.Fp8Weight;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The fp8 GEMM ({@link CublasLt#gemmFp8} behind {@code CudaKernels.matmul} for an fp8 weight) against an fp64
 * reference of what it computes: the activations quantized per tensor by the CPU twin ({@link Fp8Quantization}),
 * times the e4m3 weight, times both scales. Within 2e-3 relative + 2e-3 of the output's scale: e4m3 products are exact
 * in fp32 and Hopper's fp8 MMA accumulates in fp32 (fast accumulation off). Weights cuBLASLt cannot take as fp8
 * (per-channel scales, sides not multiples of 16) load as bf16 and still multiply correctly.
 */
@RequiresCuda
class CudaFp8GemmGpuTest {

    private static CudaKernels gpu;

    @BeforeAll
    static void open() {
        gpu = new CudaKernels();
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    /** A per-tensor (or per-row) absmax fp8 weight from gaussian values, as Fp8CheckpointWriter makes them. */
    private static Fp8Weight weight(Random rnd, int rows, int cols, boolean perChannel, Arena arena) {
        float[] w = Gpu.gaussian(rnd, rows * cols, 0.05f);
        float[] scales = new float[perChannel ? rows : 1];
        for (int i = 0; i < w.length; i++) {
            int s = perChannel ? i / cols : 0;
            scales[s] = Math.max(scales[s], Math.abs(w[i]) / 448f);
        }
        MemorySegment data = arena.allocate((long) rows * cols);
        for (int i = 0; i < w.length; i++) {
            data.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, Fp8E4M3.encode(w[i] / scales[perChannel ? i / cols : 0]));
        }
        return new Fp8Weight("w", rows, cols, data, scales, Float.NaN);
    }

    private static float[] reference(float[] x, int m, int k, Fp8Weight w, boolean quantizeX) {
        byte[] xq = new byte[x.length];
        float sx = quantizeX ? Fp8Quantization.perTensor(x, xq) : 1f;
        int n = w.rows();
        float[] out = new float[m * n];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j < n; j++) {
                double acc = 0;
                for (int c = 0; c < k; c++) {
                    double xv = quantizeX ? Fp8E4M3.decode(xq[i * k + c]) : x[i * k + c];
                    acc += xv * Fp8E4M3.decode(w.data().get(java.lang.foreign.ValueLayout.JAVA_BYTE, (long) j * k + c));
                }
                out[i * n + j] = (float) (acc * sx * w.scale(j));
            }
        }
        return out;
    }

    @ParameterizedTest(name = "m {0}, n {1}, k {2}")
    @CsvSource({"1, 256, 512", "37, 512, 1024", "300, 1024, 4096", "16, 4096, 128"})
    void fp8WeightsRunAsFp8GemmsOfQuantizedActivations(int m, int n, int k) {
        Assumptions.assumeTrue(gpu.context().device().computeCapability().smVersion() >= 89,
                "fp8 tensor cores need sm_89 or newer");
        Random rnd = new Random(m * 31L + n + k);
        try (Arena arena = Arena.ofConfined()) {
            Fp8Weight w = weight(rnd, n, k, false, arena);
            float[] x = Gpu.gaussian(rnd, m * k, 2f);
            x[3] = 40f; // an outlier sets the activation scale
            try (Tensor gw = gpu.fp8Weight(w, DType.BF16); Tensor gx = act(gpu, x, m, k);
                 Tensor out = gpu.allocate(DType.F32, m, n)) {
                assertEquals(DType.F8_E4M3, gw.dtype(), "a per-tensor fp8 weight stays fp8 on the device");
                gpu.matmul(gx, gw, null, out);
                float[] ref = reference(x, m, k, w, true);
                double scale = 0;
                for (float v : ref) {
                    scale = Math.max(scale, Math.abs(v));
                }
                Gpu.assertClose("fp8 GEMM m=" + m + " n=" + n + " k=" + k, ref, gpu.download(out), 2e-3, 2e-3 * scale);
            }
        }
    }

    /** BF16 activations (what a bf16 model's norms write for its GEMMs) take the bf16 quantization kernels. */
    @Test
    void bf16ActivationsQuantizeAsTheirFloatValues() {
        Assumptions.assumeTrue(gpu.context().device().computeCapability().smVersion() >= 89,
                "fp8 tensor cores need sm_89 or newer");
        int m = 9;
        int n = 256;
        int k = 512;
        Random rnd = new Random(17);
        try (Arena arena = Arena.ofConfined()) {
            Fp8Weight w = weight(rnd, n, k, false, arena);
            float[] x = GpuTensors.bf16Round(Gpu.gaussian(rnd, m * k, 1.5f));
            short[] bits = new short[x.length];
            for (int i = 0; i < x.length; i++) {
                bits[i] = io.rocketkv.core.numeric.Bf16.encode(x[i]);
            }
            try (Tensor gw = gpu.fp8Weight(w, DType.BF16); Tensor gx = gpu.allocate(DType.BF16, m, k);
                 Tensor out = gpu.allocate(DType.F32, m, n)) {
                ((CudaTensor) gx).buffer().copyFrom(bits);
                gpu.matmul(gx, gw, null, out);
                float[] ref = reference(x, m, k, w, true);
                double scale = 0;
                for (float v : ref) {
                    scale = Math.max(scale, Math.abs(v));
                }
                Gpu.assertClose("fp8 GEMM of bf16 activations", ref, gpu.download(out), 2e-3, 2e-3 * scale);
            }
        }
    }

    @Test
    void weightsTheFp8GemmCannotTakeLoadAsBf16() {
        Random rnd = new Random(3);
        try (Arena arena = Arena.ofConfined()) {
            Fp8Weight perChannel = weight(rnd, 64, 128, true, arena);
            Fp8Weight odd = weight(rnd, 172, 64, false, arena);
            for (Fp8Weight w : new Fp8Weight[] {perChannel, odd}) {
                int m = 5;
                float[] x = Gpu.gaussian(rnd, m * w.cols(), 1f);
                try (Tensor gw = gpu.fp8Weight(w, DType.BF16); Tensor gx = act(gpu, x, m, w.cols());
                     Tensor out = gpu.allocate(DType.F32, m, w.rows())) {
                    assertEquals(DType.BF16, gw.dtype(), w.perChannel() ? "per-channel scales" : "172 rows");
                    gpu.matmul(gx, gw, null, out);
                    // bf16 GEMM: x and the dequantized weight rounded to bf16
                    Gpu.assertClose("bf16 fallback", reference(x, m, w.cols(), w, false), gpu.download(out), 2e-2,
                            2e-2);
                }
            }
        }
    }
}
