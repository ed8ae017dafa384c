package io.rocketkv.core.kernels.dense;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.numeric.NumericFormats;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Q8_0 and Q4_0 rounding against its stated error bounds, per block, on seeded random rows. */
class WeightQuantizerTest {

    private static float[] quantizeAndBack(WeightFormat f, float[] w, int n, int k) {
        MemorySegment src = Arena.ofAuto().allocate(4L * w.length);
        NumericFormats.encode(DType.F32, w, 0, src, 0, w.length);
        WeightMatrix m = WeightQuantizer.quantize(f, DType.F32, src, n, k);
        float[] back = new float[w.length];
        for (int j = 0; j < n; j++) {
            WeightRows.decode(m, j, 0, back, j * k, k);
        }
        return back;
    }

    @Test
    void errorsStayWithinHalfAStepOfTheBlockScale() {
        SplittableRandom rnd = new SplittableRandom(3);
        int n = 7, k = 96;
        float[] w = new float[n * k];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (rnd.nextGaussian() * (1 + i / 32 % 4)); // blocks of different scales
        }
        w[5] = 0f;
        for (int i = 64; i < 96; i++) {
            w[i] = 0f; // an all-zero block: scale 0, values 0
        }
        for (WeightFormat f : new WeightFormat[] {WeightFormat.Q8_0, WeightFormat.Q4_0}) {
            float[] back = quantizeAndBack(f, w, n, k);
            for (int b = 0; b < w.length / 32; b++) {
                float amax = 0;
                for (int i = 0; i < 32; i++) {
                    amax = Math.max(amax, Math.abs(w[b * 32 + i]));
                }
                double step = f == WeightFormat.Q8_0 ? amax / 127.0 : amax / 8.0;
                for (int i = b * 32; i < b * 32 + 32; i++) {
                    // Q4_0's clamp at q = 15 costs up to one more step on the side opposite the largest element
                    double bound = (f == WeightFormat.Q8_0 ? 0.5 : 1.0) * step * (1 + 1e-5) + 1e-30;
                    assertTrue(Math.abs(back[i] - w[i]) <= bound, f + " element " + i + ": " + w[i] + " -> " + back[i]
                            + ", bound " + bound);
                }
            }
            for (int i = 64; i < 96; i++) {
                assertTrue(back[i] == 0f, f + " zero block: " + back[i]);
            }
        }
    }

    @Test
    void refusesRowsThatAreNotWholeBlocksAndFloatTargets() {
        MemorySegment src = Arena.ofAuto().allocate(4L * 40);
        assertThrows(IllegalArgumentException.class, () -> WeightQuantizer.quantize(WeightFormat.Q8_0, DType.F32, src, 1, 40));
        assertThrows(IllegalArgumentException.class, () -> WeightQuantizer.quantize(WeightFormat.BF16, DType.F32, src, 1, 32));
    }
}
