package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.rocketkv.core.kvcache.KtCacheManager;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.sparse.RocketKvParams;
import io.rocketkv.core.sparse.RocketKvPlan;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * A decode step padded to a batch-size bucket: padding sequences (kvLen 0, slot −1, a table row of −1) leave the KT
 * cache alone, get zero output rows, and do not change the real sequences' results.
 */
class CpuRocketKvPaddingTest {

    private final CpuKernels cpu = new CpuKernels();

    @Test
    void paddingSequencesAreSkippedAndGetZeroRows() {
        Random rnd = new Random(3);
        int h = 4;
        int hkv = 2;
        int d = 8;
        int tpb = 8;
        AttentionShape shape = AttentionShape.of(h, hkv, d, tpb);
        RocketKvParams p = RocketKvParams.builder().windowSize(2).kernelSize(3).promptBudget(64).topk(2).topr(d)
                .pageSize(2).ktDtype(DType.F8_E5M2).build();
        int numBlocks = 4;
        RocketKvPlan plan = new RocketKvPlan(p, new KtCacheManager(numBlocks, tpb, 2, 1, hkv, d, 4));
        Tensor cache = cpu.allocate(DType.F32, numBlocks, 2, hkv, tpb, d);
        float[] c = cpu.download(cache);
        for (int i = 0; i < c.length; i++) {
            c[i] = (float) rnd.nextGaussian();
        }
        cpu.upload(c, cache);
        int len = 13;                                    // blocks 2 and 0
        int[] table = {2, 0};
        StepBatch fill = new StepBatch(true, new int[len], new int[len], new int[len], new int[] {0, len},
                new int[] {len}, new int[][] {table}, new int[] {len - 1});
        Tensor kt = cpu.allocate(DType.F32, plan.kt().numPages(), 2, hkv, d);
        cpu.ktBuild(cache, cpu.plan(fill), shape, plan, kt);

        float[] q1 = gaussian(rnd, h * d);
        float[] k1 = gaussian(rnd, hkv * d);
        StepBatch alone = new StepBatch(false, new int[1], new int[] {len}, new int[] {table[len / tpb] * tpb
                + len % tpb}, new int[] {0, 1}, new int[] {len + 1}, new int[][] {table}, new int[] {0});
        // the same step with a padding sequence before and after the real one
        int[] slots = {-1, alone.slotMapping()[0], -1};
        StepBatch padded = new StepBatch(false, new int[3], new int[] {0, len, 0}, slots, new int[] {0, 1, 2, 3},
                new int[] {0, len + 1, 0}, new int[][] {{-1}, table, {-1, -1}}, new int[] {0, 1, 2});

        Tensor ktAlone = cpu.allocate(DType.F32, plan.kt().numPages(), 2, hkv, d);
        cpu.upload(cpu.download(kt), ktAlone);
        cpu.ktUpdate(tensor(k1, 1, hkv * d), cpu.plan(alone), shape, plan, ktAlone);
        float[] kPadded = new float[3 * hkv * d];
        Arrays.fill(kPadded, 1e9f);                      // would show up in the KT cache if folded
        System.arraycopy(k1, 0, kPadded, hkv * d, hkv * d);
        cpu.ktUpdate(tensor(kPadded, 3, hkv * d), cpu.plan(padded), shape, plan, kt);
        assertArrayEquals(cpu.download(ktAlone), cpu.download(kt));

        Tensor outAlone = cpu.allocate(DType.F32, 1, h * d);
        cpu.sparseDecodeAttention(tensor(q1, 1, h * d), cache, kt, cpu.plan(alone), shape, plan, outAlone);
        float[] qPadded = gaussian(rnd, 3 * h * d);
        System.arraycopy(q1, 0, qPadded, h * d, h * d);
        Tensor out = cpu.allocate(DType.F32, 3, h * d);
        float[] nan = new float[3 * h * d];
        Arrays.fill(nan, Float.NaN);
        cpu.upload(nan, out);
        cpu.sparseDecodeAttention(tensor(qPadded, 3, h * d), cache, kt, cpu.plan(padded), shape, plan, out);
        float[] o = cpu.download(out);
        assertArrayEquals(new float[h * d], Arrays.copyOfRange(o, 0, h * d), "padding row 0");
        assertArrayEquals(cpu.download(outAlone), Arrays.copyOfRange(o, h * d, 2 * h * d), "the real sequence");
        assertArrayEquals(new float[h * d], Arrays.copyOfRange(o, 2 * h * d, 3 * h * d), "padding row 2");
    }

    @Test
    void onlyDecodeStepsMayCarryEmptySequences() {
        var e = assertThrows(IllegalArgumentException.class, () -> new StepBatch(true, new int[1], new int[1],
                new int[] {-1}, new int[] {0, 1}, new int[] {0}, new int[][] {{-1}}, new int[] {0}));
        assertEquals(true, e.getMessage().contains("kvLen"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new StepBatch(false, new int[2], new int[2],
                new int[] {-1, -1}, new int[] {0, 2}, new int[] {0}, new int[][] {{-1}}, new int[] {0}));
    }

    private Tensor tensor(float[] data, int rows, int cols) {
        Tensor t = cpu.allocate(DType.F32, rows, cols);
        cpu.upload(data, t);
        return t;
    }

    private static float[] gaussian(Random rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = (float) rnd.nextGaussian();
        }
        return a;
    }
}
