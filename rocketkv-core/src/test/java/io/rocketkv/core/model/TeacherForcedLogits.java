package io.rocketkv.core.model;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.StepBatch;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.numeric.DType;
import java.util.Arrays;

/**
 * Logits of a prompt and a given continuation in one prefill (teacher forcing): row i is the distribution of
 * continuation token i, computed from the prompt and continuation tokens {@code 0 … i−1}. The KV cache is F32.
 */
final class TeacherForcedLogits {

    static final int TOKENS_PER_BLOCK = 16;

    private TeacherForcedLogits() {
    }

    /** Row-major {@code [continuation.length, vocab]}. */
    static float[] of(LlamaModel model, Kernels kernels, int[] prompt, int[] continuation) {
        int len = prompt.length + continuation.length - 1;
        int[] ids = Arrays.copyOf(prompt, len);
        System.arraycopy(continuation, 0, ids, prompt.length, continuation.length - 1);
        int[] pos = new int[len];
        Arrays.setAll(pos, t -> t);
        int blocks = (len + TOKENS_PER_BLOCK - 1) / TOKENS_PER_BLOCK;
        int[] table = new int[blocks];
        Arrays.setAll(table, b -> b);
        int[] rows = new int[continuation.length];
        Arrays.setAll(rows, i -> prompt.length - 1 + i);
        StepBatch b = new StepBatch(true, ids, pos, pos.clone(), new int[] {0, len}, new int[] {len},
                new int[][] {table}, rows);
        AttentionShape s = model.attentionShape();
        Tensor[] caches = new Tensor[model.numLayers()];
        for (int l = 0; l < caches.length; l++) {
            caches[l] = kernels.allocate(DType.F32, blocks, 2, s.numKvHeads(), TOKENS_PER_BLOCK, s.headDim());
        }
        return model.forward(b, caches);
    }
}
