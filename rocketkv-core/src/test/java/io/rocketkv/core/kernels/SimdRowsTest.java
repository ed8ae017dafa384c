package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.numeric.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The polynomial exp against {@link Math#exp}, and the BF16 lane order of the row arithmetic. */
class SimdRowsTest {

    /** Relative error bound on [−87.3, 0] (softmax arguments) and [0, 10]: under 2 ulp of a float (measured 8.2e-8). */
    private static final double EXP_REL = 2e-7;

    @Test
    void expIsWithinTwoUlpOfMathExpAndItsTailTwinEqualsItsLanes() {
        int n = 1 << 20;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = i < n - 4096 ? -87.3f * i / (n - 4096) : 10f * (i - (n - 4096)) / 4096;
        }
        double worst = 0;
        float[] e = x.clone();
        SimdRows.expSub(e, 0, n, 0f); // n is a multiple of the lanes: every value goes through the vector loop
        for (int i = 0; i < n; i++) {
            double exact = Math.exp(x[i]);
            worst = Math.max(worst, Math.abs(e[i] - exact) / exact);
            assertEquals(Float.floatToIntBits(e[i]), Float.floatToIntBits(SimdRows.exp(x[i])), "scalar twin at " + x[i]);
        }
        assertTrue(worst <= EXP_REL, "largest relative error " + worst);
        System.out.printf("exp: largest relative error against Math.exp %.2e (%d lanes)%n", worst, SimdRows.L);
        assertEquals(1f, SimdRows.exp(0f));
        assertEquals(0f, SimdRows.exp(Float.NEGATIVE_INFINITY));
        assertEquals(0f, SimdRows.exp(-100f));
        float[] inf = new float[SimdRows.L];
        java.util.Arrays.fill(inf, Float.NEGATIVE_INFINITY);
        assertEquals(0f, SimdRows.expSub(inf, 0, inf.length, 0f));
        assertEquals(0f, inf[0]);
    }

    @Test
    void dotAndAxpyOverBf16RowsInLaneOrderEqualTheElementOrderArithmetic() {
        Random rnd = new Random(5);
        for (int d : new int[] {8, 24, 32, 64, 100, 128}) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = arena.allocate(2L * d);
                float[] row = new float[d];
                for (int c = 0; c < d; c++) {
                    row[c] = (float) rnd.nextGaussian();
                }
                CpuKvCache.writeRow(DType.BF16, row, 0, seg, 0, d);
                float[] exact = new float[d];
                CpuKvCache.readRow(DType.BF16, seg, 0, exact, 0, d);
                float[] q = new float[d];
                for (int c = 0; c < d; c++) {
                    q[c] = (float) rnd.nextGaussian();
                }
                int[] order = SimdRows.laneOrder(d, DType.BF16);
                float[] qLanes = new float[d];
                double want = 0;
                for (int x = 0; x < d; x++) {
                    qLanes[x] = q[order[x]];
                    want += (double) q[x] * exact[x];
                }
                assertEquals(want, SimdRows.dot(DType.BF16, qLanes, 0, seg, 0, d), 1e-5 * d, "dot, D " + d);
                float[] acc = new float[d];
                SimdRows.axpy(DType.BF16, 0.5f, seg, 0, acc, 0, d);
                for (int x = 0; x < d; x++) {
                    assertEquals(0.5f * exact[order[x]], acc[x], "axpy lane " + x + ", D " + d);
                }
            }
        }
    }
}
