package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The v4 prefill kernels ({@code prefill_wgmma.cuh}, asked for by {@code -Drocketkv.cuda.prefillKernel=wgmma})
 * against the CPU twin: whole prompts of awkward lengths, several in one batch, GQA groups 1, 4 and 8, head dims 64
 * and 128, and chunks attending earlier chunks (kvLen > queryLen). Runs only where the probe finds sm_90a code (a
 * Hopper GPU); elsewhere it is skipped as an assumption, not counted as a pass.
 */
@RequiresCuda
class CudaPrefillWgmmaGpuTest {

    private static CudaKernels gpu;

    @BeforeAll
    static void open() {
        String before = System.getProperty(CudaAttention.PREFILL_KERNEL_PROPERTY);
        System.setProperty(CudaAttention.PREFILL_KERNEL_PROPERTY, "wgmma");
        try {
            gpu = new CudaKernels();
        } finally {
            if (before == null) {
                System.clearProperty(CudaAttention.PREFILL_KERNEL_PROPERTY);
            } else {
                System.setProperty(CudaAttention.PREFILL_KERNEL_PROPERTY, before);
            }
        }
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    @ParameterizedTest(name = "D {0}, heads {1}/{2}, P {3}, lengths {4}")
    @CsvSource({"128, 32, 8, 16, 1;17;64;65;1000", "128, 8, 8, 32, 4097", "128, 8, 1, 16, 97;4097",
            "64, 8, 2, 16, 1;17;64;65;1000", "64, 8, 8, 32, 4097", "64, 8, 1, 16, 3;130;257"})
    void wholePromptsMatchTheCpuTwin(int d, int heads, int kvHeads, int p, String lengths) {
        assumeTrue(gpu.usesWgmmaPrefill(), "the loaded kernels have no sm_90a code for this device");
        int[] lens = Arrays.stream(lengths.split(";")).mapToInt(Integer::parseInt).toArray();
        CudaKernelsGpuTest.checkPrefill(gpu, lens, d, heads, kvHeads, p, new Random(d * 31L + heads + lens.length));
    }

    @ParameterizedTest(name = "L {0} in chunks of {1}, H {2} / Hkv {3}, D {4}")
    @CsvSource({"300, 16, 8, 2, 64, 16", "300, 33, 4, 1, 128, 32", "1000, 256, 32, 8, 128, 32",
            "5000, 4097, 8, 1, 128, 16"})
    void chunksMatchTheCpuTwin(int len, int chunk, int heads, int kvHeads, int d, int tpb) {
        assumeTrue(gpu.usesWgmmaPrefill(), "the loaded kernels have no sm_90a code for this device");
        CudaChunkedPrefillGpuTest.checkChunkedPrefill(gpu, len, chunk, heads, kvHeads, d, tpb);
    }
}
