package io.rocketkv.core.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.SafeTensors;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link StepBatch#padDecode}: the padded layout, its validation, and that padding rows change nothing. */
class StepBatchPaddingTest {

    private static final int TPB = 4;

    @TempDir
    Path dir;

    private static StepBatch decodeOfTwo() {
        return new StepBatch(false, new int[] {7, 9}, new int[] {5, 2}, new int[] {1 * TPB + 1, 2 * TPB + 2},
                new int[] {0, 1, 2}, new int[] {6, 3}, new int[][] {{0, 1}, {2}}, new int[] {0, 1});
    }

    @Test
    void padsToTheBucketWithSkippedRows() {
        StepBatch p = decodeOfTwo().padDecode(4, 3);
        assertEquals(4, p.numSeqs());
        assertEquals(4, p.numTokens());
        assertArrayEquals(new int[] {7, 9, 0, 0}, p.tokenIds());
        assertArrayEquals(new int[] {5, 2, 0, 0}, p.positions());
        assertArrayEquals(new int[] {5, 10, -1, -1}, p.slotMapping());
        assertArrayEquals(new int[] {0, 1, 2, 3, 4}, p.queryStart());
        assertArrayEquals(new int[] {6, 3, 0, 0}, p.kvLens());
        assertArrayEquals(new int[] {0, 1, -1}, p.blockTables()[0]);
        assertArrayEquals(new int[] {2, -1, -1}, p.blockTables()[1]);
        assertArrayEquals(new int[] {-1, -1, -1}, p.blockTables()[3]);
        assertArrayEquals(new int[] {0, 1, 2, 3}, p.logitRows());
    }

    @Test
    void rejectsWhatCannotBePadded() {
        StepBatch d = decodeOfTwo();
        assertThrows(IllegalArgumentException.class, () -> d.padDecode(1, 3), "fewer sequences");
        assertThrows(IllegalArgumentException.class, () -> d.padDecode(4, 1), "table wider than the width");
        StepBatch prefill = new StepBatch(true, new int[] {1, 2}, new int[] {0, 1}, new int[] {0, 1},
                new int[] {0, 2}, new int[] {2}, new int[][] {{0}}, new int[] {1});
        assertThrows(IllegalArgumentException.class, () -> prefill.padDecode(2, 1));
        // a kvLen-0 row is padding only in decode and only with slot -1
        assertThrows(IllegalArgumentException.class, () -> new StepBatch(false, new int[] {1}, new int[] {0},
                new int[] {3}, new int[] {0, 1}, new int[] {0}, new int[][] {{0}}, new int[] {0}));
        assertThrows(IllegalArgumentException.class, () -> new StepBatch(true, new int[] {1}, new int[] {0},
                new int[] {-1}, new int[] {0, 1}, new int[] {0}, new int[][] {{0}}, new int[] {0}));
    }

    /** On the CPU, the real rows of a padded decode step give the unpadded step's logits and cache writes. */
    @Test
    void paddingRowsChangeNothing() throws Exception {
        Path ckpt = RandomCheckpoint.tiny().write(dir.resolve("tiny"));
        ModelConfig config = ModelConfig.load(ckpt);
        try (SafeTensors weights = SafeTensors.open(ckpt)) {
            CpuKernels k = new CpuKernels();
            LlamaModel model = LlamaModel.load(config, weights, k, TPB);
            Tensor[] a = caches(k, model);
            Tensor[] b = caches(k, model);
            StepBatch prefill = new StepBatch(true, new int[] {3, 17, 42, 99, 7, 250, 11, 64}, new int[] {0, 1, 2, 3, 4, 0, 1, 2},
                    new int[] {0, 1, 2, 3, 4, 8, 9, 10}, new int[] {0, 5, 8}, new int[] {5, 3},
                    new int[][] {{0, 1}, {2}}, new int[] {4, 7});
            model.forward(prefill, a);
            model.forward(prefill, b);
            StepBatch d = decodeOfTwo();
            float[] plain = model.forward(d, a);
            float[] padded = model.forward(d.padDecode(4, 3), b);
            int v = config.vocabSize();
            assertArrayEquals(plain, Arrays.copyOf(padded, 2 * v), "real rows");
            for (int i = 2 * v; i < padded.length; i++) {
                assertEquals(false, Float.isNaN(padded[i]), "padding rows stay finite");
            }
            for (int l = 0; l < a.length; l++) {
                assertArrayEquals(k.download(a[l]), k.download(b[l]), "layer " + l + " cache");
            }
        }
    }

    private static Tensor[] caches(CpuKernels k, LlamaModel model) {
        AttentionShape s = model.attentionShape();
        Tensor[] c = new Tensor[model.numLayers()];
        for (int l = 0; l < c.length; l++) {
            c[l] = k.allocate(DType.F32, 4, 2, s.numKvHeads(), TPB, s.headDim());
        }
        return c;
    }
}
