package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.numeric.DType;
import org.junit.jupiter.api.Test;

/** The CPU caches hold only the blocks the ops reached, and read as a whole zeroed tensor otherwise. */
class CpuCacheGrowthTest {

    private final CpuKernels k = new CpuKernels(false);

    @Test
    void aKvCacheHoldsOnlyTheBlocksWrittenAndReadsAsAWholeTensor() {
        AttentionShape s = AttentionShape.of(2, 1, 8, 4);
        int blocks = 1000;
        Tensor cache = k.allocate(DType.F32, blocks, 2, 1, 4, 8);
        assertEquals(0, ((CpuKvCache) cache).heldBlocks(), "nothing allocated before the first write");
        float[] kv = new float[8];
        for (int i = 0; i < 8; i++) {
            kv[i] = i + 1;
        }
        Tensor kt = k.allocate(DType.F32, 1, 8);
        Tensor vt = k.allocate(DType.F32, 1, 8);
        k.upload(kv, kt);
        k.upload(kv, vt);
        // one token into block 3, slot 1
        StepBatch b = new StepBatch(true, new int[] {0}, new int[] {0}, new int[] {3 * 4 + 1}, new int[] {0, 1},
                new int[] {1}, new int[][] {{3}}, new int[] {0});
        k.writeKv(kt, vt, k.plan(b), s, cache);
        assertEquals(1, ((CpuKvCache) cache).heldBlocks(), "only the block written");
        float[] all = k.download(cache);
        assertEquals(blocks * 2 * 4 * 8, all.length);
        int kOff = CpuKernels.kOffset(3, 0, 1, s);
        int vOff = CpuKernels.vOffset(3, 0, 1, s);
        for (int i = 0; i < all.length; i++) {
            boolean written = (i >= kOff && i < kOff + 8) || (i >= vOff && i < vOff + 8);
            if (!written) {
                assertEquals(0f, all[i], "element " + i);
            }
        }
        for (int i = 0; i < 8; i++) {
            assertEquals(i + 1, all[kOff + i]);
            assertEquals(i + 1, all[vOff + i]);
        }
    }

    @Test
    void aClosedKvCacheRefusesOpsWithAnExceptionAndClosingTwiceIsHarmless() {
        AttentionShape s = AttentionShape.of(2, 1, 8, 4);
        Tensor cache = k.allocate(DType.BF16, 4, 2, 1, 4, 8);
        Tensor kv = k.allocate(DType.F32, 1, 8);
        StepBatch b = new StepBatch(true, new int[] {0}, new int[] {0}, new int[] {1}, new int[] {0, 1},
                new int[] {1}, new int[][] {{0}}, new int[] {0});
        k.writeKv(kv, kv, k.plan(b), s, cache);
        cache.close();
        cache.close();
        assertThrows(IllegalStateException.class, () -> k.writeKv(kv, kv, k.plan(b), s, cache));
        assertThrows(IllegalStateException.class, () -> k.download(cache));
    }

    @Test
    void aKvCacheOfAnotherDtypeOrShapeIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> k.allocate(DType.F16, 4, 2, 1, 4, 8));
        assertThrows(IllegalArgumentException.class, () -> k.allocate(DType.BF16, 4, 3, 1, 4, 8));
        assertThrows(IllegalArgumentException.class, () -> new CpuKernels(false, DType.F16));
    }

    @Test
    void growingKeepsWhatWasWrittenAndUploadFillsTheWholeTensor() {
        CpuTensor t = CpuTensor.growable(10, 3);
        t.ensureRows(2);
        t.floats()[5] = 7f;
        t.ensureRows(9);
        assertEquals(7f, t.floats()[5]);
        assertThrows(IllegalArgumentException.class, () -> t.ensureRows(11));
        float[] src = new float[30];
        src[29] = 3f;
        k.upload(src, t);
        assertArrayEquals(src, k.download(t));
    }
}
