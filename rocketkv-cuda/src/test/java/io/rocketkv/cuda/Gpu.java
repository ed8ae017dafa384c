package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import org.junit.jupiter.api.Assumptions;

/** Shared bits of the {@code gpu}-tagged tests: the skip rule, seeded inputs and the llm.c-style comparison. */
final class Gpu {

    private Gpu() {
    }

    /**
     * Tolerance of the tensor-core prefill kernels (v3 prefill_mma.cuh, v4 prefill_wgmma.cuh) against the exact CPU
     * twin on the same bf16 K/V: they round q and the softmax weights P to bf16 (relative 2^-9 each) before the two
     * products, so an output row of unit-scale values carries errors of a few 2^-9. Measured on an H100 (suite and
     * fp64 harness, 2026-12-07): at most 6.4e-3 absolute over ~10M values; atol 2^-7, rtol 2e-2.
     */
    static final double PREFILL_RTOL = 2e-2;
    static final double PREFILL_ATOL = 0x1p-7;

    /** Skips the calling test (or class, from {@code @BeforeAll}) where there is no usable CUDA device. */
    static void assumeCuda() {
        Assumptions.assumeTrue(CudaDriver.isAvailable(), () -> "no CUDA here: " + CudaDriver.unavailableReason());
    }

    /** Skips where there is no CUDA device, else retains device 0's primary context. */
    static CudaContext context() {
        assumeCuda();
        return CudaContext.primary(0);
    }

    static float[] gaussian(Random rnd, int n, float scale) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian() * scale;
        }
        return a;
    }

    /**
     * Asserts {@code |actual - expected| <= atol + rtol * |expected|} element-wise; on failure lists the
     * first mismatches (llm.c style) and the worst one.
     */
    static void assertClose(String what, float[] expected, float[] actual, double rtol, double atol) {
        if (expected.length != actual.length) {
            fail(what + ": expected " + expected.length + " values, got " + actual.length);
        }
        StringBuilder first = new StringBuilder();
        int bad = 0;
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            double allowed = atol + rtol * Math.abs(e);
            double err = Math.abs(a - e);
            boolean ok = err <= allowed || (Double.isNaN(e) && Double.isNaN(a)) || (e == a);
            if (!ok) {
                if (bad < 5) {
                    first.append(String.format("%n  [%d] expected %.9g got %.9g (error %.3g, allowed %.3g)", i, e, a, err,
                            allowed));
                }
                bad++;
                double excess = Double.isNaN(err) ? Double.POSITIVE_INFINITY : err / allowed;
                if (worst < 0 || excess > worstExcess) {
                    worst = i;
                    worstExcess = excess;
                }
            }
        }
        if (bad > 0) {
            fail(String.format("%s: %d of %d values differ (rtol %.1g, atol %.1g); first:%s%n  worst [%d]: expected %.9g got %.9g",
                    what, bad, expected.length, rtol, atol, first, worst, expected[worst], actual[worst]));
        }
    }
}
