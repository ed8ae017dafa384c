package io.rocketkv.core.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.CpuKernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import io.rocketkv.core.testing.RandomCheckpoint;
import io.rocketkv.core.weights.SafeTensors;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One reused {@link StepWorkspace}, larger than any step and poisoned with NaN between steps, gives
 * bit-identical logits to a fresh, exactly sized, zero-filled workspace per step (what forward allocated
 * before the workspace existed): no op reads a row it did not write in the same step.
 */
class StepWorkspaceTest {

    private static final int TPB = 16;

    @TempDir
    Path dir;

    @Test
    void reusedPoisonedWorkspaceIsBitIdenticalToFreshTensors() throws Exception {
        Path ckpt = RandomCheckpoint.tiny().write(dir.resolve("tiny"));
        ModelConfig config = ModelConfig.load(ckpt);
        try (SafeTensors weights = SafeTensors.open(ckpt)) {
            CpuKernels kernels = new CpuKernels();
            LlamaModel model = LlamaModel.load(config, weights, kernels, TPB);
            Tensor[] cachesA = caches(model, kernels);
            Tensor[] cachesB = caches(model, kernels);
            try (StepWorkspace ws = model.newWorkspace(64, 8)) {
                for (StepBatch step : steps(config.vocabSize())) {
                    float[] fresh = model.forward(step, cachesA);
                    poison(kernels, ws);
                    float[] reused = model.forward(step, cachesB, null, null, ws);
                    assertEquals(step.logitRows().length * config.vocabSize(), reused.length);
                    assertArrayEquals(fresh, reused, "logits of a " + (step.prefill() ? "prefill" : "decode") + " step");
                }
            }
        }
    }

    @Test
    void ensureCapacityGrowsAndForwardRejectsAStepThatDoesNotFit() throws Exception {
        Path ckpt = RandomCheckpoint.tiny().write(dir.resolve("tiny"));
        ModelConfig config = ModelConfig.load(ckpt);
        try (SafeTensors weights = SafeTensors.open(ckpt)) {
            CpuKernels kernels = new CpuKernels();
            LlamaModel model = LlamaModel.load(config, weights, kernels, TPB);
            Tensor[] caches = caches(model, kernels);
            StepBatch prefill = steps(config.vocabSize()).getFirst();
            try (StepWorkspace ws = model.newWorkspace(2, 1)) {
                assertThrows(IllegalArgumentException.class, () -> model.forward(prefill, caches, null, null, ws));
                assertTrue(ws.ensureCapacity(prefill.numTokens(), prefill.logitRows().length));
                assertEquals(prefill.numTokens(), ws.maxTokens());
                assertFalse(ws.ensureCapacity(1, 1));
                assertArrayEquals(model.forward(prefill, caches(model, kernels)), model.forward(prefill, caches, null, null, ws));
            }
        }
    }

    private static Tensor[] caches(LlamaModel model, CpuKernels kernels) {
        AttentionShape s = model.attentionShape();
        Tensor[] c = new Tensor[model.numLayers()];
        for (int l = 0; l < c.length; l++) {
            c[l] = kernels.allocate(DType.F32, 8, 2, s.numKvHeads(), TPB, s.headDim());
        }
        return c;
    }

    private static void poison(CpuKernels kernels, StepWorkspace ws) {
        for (Tensor t : List.of(ws.x(), ws.xn(), ws.q(), ws.k(), ws.v(), ws.attn(), ws.proj(), ws.gate(), ws.up(),
                ws.last(), ws.lastNormed(), ws.logits())) {
            float[] nan = new float[Math.toIntExact(t.numel())];
            Arrays.fill(nan, Float.NaN);
            kernels.upload(nan, t);
        }
    }

    /** A prefill of two sequences (5 and 3 tokens, blocks 0 and 1), then four decode steps of both. */
    private static List<StepBatch> steps(int vocab) {
        int[][] prompts = {{3, 17, 42, 99, 7}, {250, 11, 64}};
        List<StepBatch> out = new ArrayList<>();
        int[] ids = new int[8];
        int[] pos = new int[8];
        int[] slots = new int[8];
        int t = 0;
        for (int s = 0; s < 2; s++) {
            for (int j = 0; j < prompts[s].length; j++, t++) {
                ids[t] = prompts[s][j];
                pos[t] = j;
                slots[t] = s * TPB + j;
            }
        }
        int[][] tables = {{0}, {1}};
        out.add(new StepBatch(true, ids, pos, slots, new int[] {0, 5, 8}, new int[] {5, 3}, tables, new int[] {4, 7}));
        int[] lens = {5, 3};
        for (int step = 0; step < 4; step++) {
            int[] dIds = new int[2];
            int[] dPos = new int[2];
            int[] dSlots = new int[2];
            int[] kvLens = new int[2];
            for (int s = 0; s < 2; s++) {
                dIds[s] = (31 * step + 7 * s + 5) % vocab;
                dPos[s] = lens[s];
                dSlots[s] = s * TPB + lens[s];
                lens[s]++;
                kvLens[s] = lens[s];
            }
            out.add(new StepBatch(false, dIds, dPos, dSlots, new int[] {0, 1, 2}, kvLens, tables, new int[] {0, 1}));
        }
        return out;
    }
}
