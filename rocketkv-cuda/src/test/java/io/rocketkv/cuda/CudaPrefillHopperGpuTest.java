package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The Hopper prefill kernels, v4 ({@code prefill_wgmma.cuh}, {@code -Drocketkv.cuda.prefillKernel=wgmma}) and v5
 * ({@code prefill_wgmma_ws.cuh}, {@code ws}), against the CPU twin: whole prompts of awkward
 * lengths, several in one batch, GQA groups 1, 4 and 8, head dims 64 and 128, and chunks attending earlier chunks
 * (kvLen > queryLen). Runs only where the probe finds sm_90a code (a Hopper GPU); elsewhere it is skipped as an
 * assumption, not counted as a pass.
 */
@RequiresCuda
class CudaPrefillHopperGpuTest {

    private static final Map<PrefillKernel, CudaKernels> OPEN = new EnumMap<>(PrefillKernel.class);

    /** A CudaKernels whose prefill runs {@code kernel}, or a skipped test where this device has no sm_90a code. */
    private static synchronized CudaKernels gpu(PrefillKernel kernel) {
        CudaKernels k = OPEN.get(kernel);
        if (k == null) {
            try {
                k = open(kernel);
            } catch (IllegalArgumentException e) {
                assumeTrue(!e.getMessage().contains("needs sm_90a code"), e.getMessage());
                throw e;
            }
            assertEquals(kernel, k.prefillKernel());
            OPEN.put(kernel, k);
        }
        return k;
    }

    private static CudaKernels open(PrefillKernel kernel) {
        String before = System.getProperty(PrefillKernel.PROPERTY);
        System.setProperty(PrefillKernel.PROPERTY, kernel.key());
        try {
            return new CudaKernels();
        } finally {
            if (before == null) {
                System.clearProperty(PrefillKernel.PROPERTY);
            } else {
                System.setProperty(PrefillKernel.PROPERTY, before);
            }
        }
    }

    @AfterAll
    static void close() {
        OPEN.values().forEach(CudaKernels::close);
        OPEN.clear();
    }

    private static Stream<Arguments> withKernels(Object[][] cases) {
        List<Arguments> all = new ArrayList<>();
        for (PrefillKernel k : List.of(PrefillKernel.WS, PrefillKernel.WGMMA)) {
            for (Object[] c : cases) {
                Object[] a = new Object[c.length + 1];
                a[0] = k;
                System.arraycopy(c, 0, a, 1, c.length);
                all.add(Arguments.of(a));
            }
        }
        return all.stream();
    }

    static Stream<Arguments> wholePrompts() {
        return withKernels(new Object[][] {{128, 32, 8, 16, "1;17;64;65;1000"}, {128, 8, 8, 32, "4097"},
                {128, 8, 1, 16, "97;4097"}, {64, 8, 2, 16, "1;17;64;65;1000"}, {64, 8, 8, 32, "4097"},
                {64, 8, 1, 16, "3;130;257"}});
    }

    @ParameterizedTest(name = "{0}: D {1}, heads {2}/{3}, P {4}, lengths {5}")
    @MethodSource("wholePrompts")
    void wholePromptsMatchTheCpuTwin(PrefillKernel kernel, int d, int heads, int kvHeads, int p, String lengths) {
        int[] lens = Arrays.stream(lengths.split(";")).mapToInt(Integer::parseInt).toArray();
        CudaKernelsGpuTest.checkPrefill(gpu(kernel), lens, d, heads, kvHeads, p,
                new Random(d * 31L + heads + lens.length));
    }

    static Stream<Arguments> chunks() {
        return withKernels(new Object[][] {{300, 16, 8, 2, 64, 16}, {300, 33, 4, 1, 128, 32},
                {1000, 256, 32, 8, 128, 32}, {5000, 4097, 8, 1, 128, 16}});
    }

    @ParameterizedTest(name = "{0}: L {1} in chunks of {2}, H {3} / Hkv {4}, D {5}")
    @MethodSource("chunks")
    void chunksMatchTheCpuTwin(PrefillKernel kernel, int len, int chunk, int heads, int kvHeads, int d, int tpb) {
        CudaChunkedPrefillGpuTest.checkChunkedPrefill(gpu(kernel), len, chunk, heads, kvHeads, d, tpb);
    }
}
