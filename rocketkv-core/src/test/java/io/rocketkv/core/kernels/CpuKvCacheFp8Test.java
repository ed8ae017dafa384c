package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.Fp8E4M3;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The F8_E4M3 KV cache: one byte an element, K and V each with the layer's scale, refused scales elsewhere. */
class CpuKvCacheFp8Test {

    @Test
    void rowsAreStoredAsScaledE4m3AndReadBackScaled() {
        int hkv = 2;
        int tpb = 4;
        int d = 8;
        try (CpuKvCache c = new CpuKvCache(DType.F8_E4M3, 3, 2, hkv, tpb, d)) {
            c.setScales(0.25f, 3f);
            assertEquals(2L * hkv * tpb * d, c.blockBytes(), "one byte an element");
            c.ensure(1);
            Random r = new Random(7);
            float[] k = new float[d];
            float[] v = new float[d];
            for (int i = 0; i < d; i++) {
                k[i] = (float) r.nextGaussian() * 40f;   // past 448 · 0.25 = 112 for some: saturates
                v[i] = (float) r.nextGaussian();
            }
            k[0] = 500f;
            c.writeRow(k, 0, c.block(1), c.kOffset(1, 2));
            c.writeRow(v, 0, c.block(1), c.vOffset(1, 2));
            float[] kBack = new float[d];
            float[] vBack = new float[d];
            c.readRow(c.block(1), c.kOffset(1, 2), kBack, 0);
            c.readRow(c.block(1), c.vOffset(1, 2), vBack, 0);
            for (int i = 0; i < d; i++) {
                // brute force: the e4m3 value nearest x / scale, times scale
                assertEquals(nearestE4m3(k[i] / 0.25f) * 0.25f, kBack[i], 0f, "K element " + i);
                assertEquals(nearestE4m3(v[i] / 3f) * 3f, vBack[i], 0f, "V element " + i);
                assertEquals(kBack[i], c.round(k[i], false), 0f);
                assertEquals(vBack[i], c.round(v[i], true), 0f);
            }
            assertEquals(448f * 0.25f, kBack[0], 0f, "saturates at 448 · k_scale");
        }
    }

    /** The finite e4m3 value nearest x (ties to the even code), found by trying all 254 finite codes. */
    private static float nearestE4m3(float x) {
        float best = Float.NaN;
        int bestCode = -1;
        for (int b = 0; b < 256; b++) {
            float f = Fp8E4M3.decode((byte) b);
            if (Float.isNaN(f)) {
                continue;
            }
            if (bestCode < 0 || Math.abs(f - x) < Math.abs(best - x)
                    || (Math.abs(f - x) == Math.abs(best - x) && (b & 1) == 0 && Math.abs(f) < 448f)) {
                best = f;
                bestCode = b;
            }
        }
        return Math.abs(x) > 448f ? Math.copySign(448f, x) : best;
    }

    @Test
    void scalesMustBePositiveAndApplyToFp8Only() {
        try (CpuKvCache c = new CpuKvCache(DType.F8_E4M3, 1, 2, 1, 4, 8)) {
            var e = assertThrows(IllegalArgumentException.class, () -> c.setScales(0f, 1f));
            assertTrue(e.getMessage().contains("positive and finite"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> c.setScales(1f, Float.NaN));
        }
        try (CpuKvCache c = new CpuKvCache(DType.BF16, 1, 2, 1, 4, 8)) {
            c.setScales(1f, 1f);
            var e = assertThrows(IllegalArgumentException.class, () -> c.setScales(0.5f, 1f));
            assertTrue(e.getMessage().contains("F8_E4M3 cache only"), e.getMessage());
        }
    }

    @Test
    void kernelsTakeFp8ByPropertyAndSetScalesOnTheirCaches() {
        CpuKernels k = new CpuKernels(false, DType.F8_E4M3);
        assertEquals(DType.F8_E4M3, k.kvCacheDtype());
        Tensor cache = k.allocate(DType.F8_E4M3, 2, 2, 1, 4, 8);
        k.setKvCacheScales(cache, 0.5f, 2f);
        assertEquals(0.5f, ((CpuKvCache) cache).kScale());
        assertEquals(2f, ((CpuKvCache) cache).vScale());
        String before = System.getProperty(CpuKernels.KV_DTYPE_PROPERTY);
        try {
            System.setProperty(CpuKernels.KV_DTYPE_PROPERTY, "fp8");
            assertEquals(DType.F8_E4M3, CpuKernels.defaultKvCacheDtype());
        } finally {
            if (before == null) {
                System.clearProperty(CpuKernels.KV_DTYPE_PROPERTY);
            } else {
                System.setProperty(CpuKernels.KV_DTYPE_PROPERTY, before);
            }
        }
    }
}
