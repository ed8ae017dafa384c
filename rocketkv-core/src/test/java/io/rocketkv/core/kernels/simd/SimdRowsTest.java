package io.rocketkv.core.kernels.simd;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.kernels.CpuKvCache;
import io.rocketkv.core.numeric.DType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The online softmax's tile step against its definition with {@link Lanes#exp}, and the BF16 lane order of the row arithmetic. */
class SimdRowsTest {

    /**
     * Every score, in the vector loop or the tail, becomes {@link Lanes#exp} of its difference from the new max, bit
     * for bit; the running max, sum and accumulator follow the online-softmax recurrence (sum within fp32 rounding).
     */
    @Test
    void softmaxTileIsTheOnlineSoftmaxStepWithLanesExp() {
        Random rnd = new Random(3);
        int d = 40;
        for (int n : new int[] {1, WeightVectors.L - 1, 3 * WeightVectors.L + 5, 64}) {
            for (float oldMax : new float[] {Float.NEGATIVE_INFINITY, 3f, 80f}) {
                float[] x = new float[n];
                for (int i = 0; i < n; i++) {
                    x[i] = (float) (rnd.nextGaussian() * 30);
                }
                if (n > 1) {
                    x[n / 2] = Float.NEGATIVE_INFINITY; // a score of −∞ (the tile has a finite one): e^−∞ = 0
                }
                float[] acc = new float[d];
                for (int c = 0; c < d; c++) {
                    acc[c] = (float) rnd.nextGaussian();
                }
                float[] max = {0f, oldMax};
                float[] sum = {0f, 2.5f};
                float[] p = x.clone();
                float[] scaled = acc.clone();
                SimdRows.softmaxTile(p, 0, n, max, sum, 1, scaled, 0, d);
                float m = oldMax;
                for (float v : x) {
                    m = Math.max(m, v);
                }
                assertEquals(m, max[1], "max, n " + n);
                float corr = Lanes.exp(oldMax - m);
                double want = 2.5 * corr;
                for (int i = 0; i < n; i++) {
                    assertEquals(Float.floatToIntBits(Lanes.exp(x[i] - m)), Float.floatToIntBits(p[i]), "score " + i);
                    want += p[i];
                }
                assertEquals(want, sum[1], 1e-6 * want, "sum, n " + n);
                for (int c = 0; c < d; c++) {
                    assertEquals(acc[c] * corr, scaled[c], "acc " + c);
                }
            }
        }
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
                CpuKvCache.writeRow(DType.BF16, 1f, row, 0, seg, 0, d);
                float[] exact = new float[d];
                CpuKvCache.readRow(DType.BF16, 1f, seg, 0, exact, 0, d);
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
