package io.rocketkv.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.RecordedStep;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.model.LlamaModel;
import io.rocketkv.core.model.ModelConfig;
import io.rocketkv.core.model.StepWorkspace;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.SafeTensors;
import java.nio.file.Path;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A decode step recorded as a CUDA graph ({@link CudaKernels#record}) and replayed for later steps of other
 * sizes (padded to the bucket), other tokens and other lengths gives the logits of the same steps run op by
 * op on a second cache: the graph reads every per-step value from the step it is replayed for.
 */
@RequiresCuda
class CudaRecordedStepGpuTest {

    private static final int TPB = 16;
    private static final int BUCKET = 4;
    private static final int WIDTH = 16;

    @TempDir
    Path dir;

    @Test
    void replayedStepsMatchEagerStepsAcrossSizesAndLengths() throws Exception {
        Path ckpt = RandomCheckpoint.builder().dtype(DType.BF16).numLayers(2).numHeads(8).numKvHeads(2).headDim(32)
                .hiddenSize(256).intermediateSize(512).vocabSize(512).build().write(dir.resolve("m"));
        ModelConfig config = ModelConfig.load(ckpt);
        try (SafeTensors weights = SafeTensors.open(ckpt); CudaKernels gpu = new CudaKernels()) {
            LlamaModel model = LlamaModel.load(config, weights, gpu, TPB);
            assertEquals(DType.BF16, gpu.gemmInputDtype());
            AttentionShape shape = model.attentionShape();
            int numBlocks = 3 * 8 + 1;
            Tensor[] eager = caches(gpu, model, shape, numBlocks);
            Tensor[] graphed = caches(gpu, model, shape, numBlocks);
            int vocab = config.vocabSize();
            Random rnd = new Random(11);
            int[] lens = {37, 5, 90};
            int[][] tables = new int[3][];
            int next = 0;
            for (int s = 0; s < 3; s++) {
                tables[s] = new int[8];
                for (int j = 0; j < 8; j++) {
                    tables[s][j] = next++;
                }
            }
            StepBatch prefill = prefill(lens, tables, vocab, rnd);
            try (StepWorkspace wsA = model.newWorkspace(512, 8); StepWorkspace wsB = model.newWorkspace(512, 8)) {
                model.forward(prefill, eager, null, null, wsA);
                model.forward(prefill, graphed, null, null, wsB);
                RecordedStep recorded = null;
                boolean[] alive = {true, true, true};
                for (int step = 0; step < 8; step++) {
                    if (step == 3) {
                        alive[1] = false; // a sequence finishes: 2 rows in the bucket of 4
                    }
                    StepBatch decode = decode(lens, tables, alive, vocab, rnd);
                    float[] expected = model.forward(decode, eager, null, null, wsA);
                    StepPlan padded = gpu.plan(decode.padDecode(BUCKET, WIDTH), WIDTH * TPB);
                    if (recorded == null) {
                        recorded = gpu.record(padded, () -> model.run(padded, graphed, null, null, wsB));
                        assertNotNull(recorded);
                    } else {
                        assertFalse(recorded.isStale());
                        recorded.replay(padded);
                    }
                    float[] actual = model.readLogits(wsB, decode.numSeqs());
                    Gpu.assertClose("decode step " + step + " (" + decode.numSeqs() + " sequences)", expected, actual,
                            2e-3, 2e-3);
                    for (int r = 0; r < decode.numSeqs(); r++) {
                        assertEquals(argmax(expected, r * vocab, vocab), argmax(actual, r * vocab, vocab),
                                "greedy token of row " + r + " at step " + step);
                    }
                }
                StepPlan wider = gpu.plan(decode(lens, tables, alive, vocab, rnd).padDecode(BUCKET, 2 * WIDTH),
                        2 * WIDTH * TPB);
                RecordedStep r = recorded;
                assertThrows(IllegalArgumentException.class, () -> r.replay(wider), "another table width");
                // a prefill larger than any before grows the scratch memory: the recording goes stale
                StepBatch big = prefill(new int[] {120, 120, 120}, tables, vocab, rnd);
                model.forward(big, eager, null, null, wsA);
                assertTrue(recorded.isStale(), "scratch moved");
                assertThrows(IllegalStateException.class, () -> r.replay(wider));
                recorded.close();
            }
        }
    }

    private static Tensor[] caches(CudaKernels gpu, LlamaModel model, AttentionShape s, int numBlocks) {
        Tensor[] c = new Tensor[model.numLayers()];
        for (int l = 0; l < c.length; l++) {
            c[l] = gpu.allocate(DType.BF16, numBlocks, 2, s.numKvHeads(), TPB, s.headDim());
        }
        return c;
    }

    private static StepBatch prefill(int[] lens, int[][] tables, int vocab, Random rnd) {
        int total = 0;
        for (int len : lens) {
            total += len;
        }
        int[] ids = new int[total];
        int[] pos = new int[total];
        int[] slots = new int[total];
        int[] qs = new int[lens.length + 1];
        int[] rows = new int[lens.length];
        int t = 0;
        for (int s = 0; s < lens.length; s++) {
            qs[s] = t;
            for (int j = 0; j < lens[s]; j++, t++) {
                ids[t] = rnd.nextInt(vocab);
                pos[t] = j;
                slots[t] = tables[s][j / TPB] * TPB + j % TPB;
            }
            rows[s] = t - 1;
        }
        qs[lens.length] = t;
        return new StepBatch(true, ids, pos, slots, qs, lens.clone(), tables, rows);
    }

    /** One token for each live sequence; advances their lengths. */
    private static StepBatch decode(int[] lens, int[][] tables, boolean[] alive, int vocab, Random rnd) {
        int n = 0;
        for (boolean a : alive) {
            n += a ? 1 : 0;
        }
        int[] ids = new int[n];
        int[] pos = new int[n];
        int[] slots = new int[n];
        int[] qs = new int[n + 1];
        int[] kv = new int[n];
        int[][] tab = new int[n][];
        int[] rows = new int[n];
        int i = 0;
        for (int s = 0; s < lens.length; s++) {
            if (!alive[s]) {
                continue;
            }
            int len = lens[s];
            ids[i] = rnd.nextInt(vocab);
            pos[i] = len;
            slots[i] = tables[s][len / TPB] * TPB + len % TPB;
            kv[i] = len + 1;
            tab[i] = java.util.Arrays.copyOf(tables[s], len / TPB + 1);
            rows[i] = i;
            qs[i + 1] = i + 1;
            lens[s] = len + 1;
            i++;
        }
        return new StepBatch(false, ids, pos, slots, qs, kv, tab, rows);
    }

    private static int argmax(float[] v, int off, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (v[off + i] > v[off + best]) {
                best = i;
            }
        }
        return best;
    }
}
