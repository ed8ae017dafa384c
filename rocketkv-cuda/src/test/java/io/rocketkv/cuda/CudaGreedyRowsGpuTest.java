package io.rocketkv.cuda;

import static io.rocketkv.cuda.GpuTensors.act;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.rocketkv.core.testing.GreedyReference;
import io.rocketkv.core.kernels.Tensor;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code greedy_rows_f32} ({@link CudaKernels#greedyRows}) against the engine's sampler at temperature 0
 * ({@link GreedyReference}): the same ids (ties to the lowest id, −0 as +0, −Infinity entries, a NaN row reported as
 * −1) and top-k ids, log-probabilities within 2e-6 (the GPU sums exp in double in another order).
 */
@RequiresCuda
class CudaGreedyRowsGpuTest {

    private static CudaKernels gpu;

    @BeforeAll
    static void open() {
        gpu = new CudaKernels();
    }

    @AfterAll
    static void close() {
        if (gpu != null) {
            gpu.close();
        }
    }

    @Test
    void greedyRowsAreTheSamplersGreedyPicks() {
        Random rnd = new Random(5);
        for (int[] shape : new int[][] {{1, 320, 0}, {7, 128256, 5}, {64, 32000, 20}, {3, 17, 17}}) {
            int rows = shape[0];
            int vocab = shape[1];
            int topK = shape[2];
            float[] logits = Gpu.gaussian(rnd, rows * vocab, 3f);
            for (int r = 0; r < rows; r++) {
                logits[r * vocab + (r % vocab)] = 9f;           // a tie with the next entry: the lower id wins
                logits[r * vocab + ((r + 1) % vocab)] = 9f;
                logits[r * vocab + ((r + 2) % vocab)] = Float.NEGATIVE_INFINITY;
                logits[r * vocab + ((r + 3) % vocab)] = -0f;
            }
            if (rows > 2) {
                logits[2 * vocab + 5] = Float.NaN; // row 2 cannot be sampled
            }
            int[] ids = new int[rows];
            float[] lps = new float[rows];
            int[] topIds = new int[rows * topK];
            float[] topLps = new float[rows * topK];
            try (Tensor l = act(gpu, logits, rows, vocab)) {
                gpu.greedyRows(l, rows, topK, ids, lps, topIds, topLps);
            }
            GreedyReference ref = GreedyReference.of(logits, rows, vocab, topK);
            for (int r = 0; r < rows; r++) {
                String what = "rows " + rows + " vocab " + vocab + " row " + r;
                assertEquals(ref.ids()[r], ids[r], what + ": id");
                if (ids[r] < 0) {
                    continue;
                }
                assertEquals(ref.logprobs()[r], lps[r], 2e-6, what + ": logprob");
                for (int j = 0; j < topK; j++) {
                    assertEquals(ref.topIds()[r * topK + j], topIds[r * topK + j], what + ": top " + j);
                    assertEquals(ref.topLogprobs()[r * topK + j], topLps[r * topK + j], 2e-6, what + ": top lp " + j);
                }
            }
        }
    }
}
