package io.rocketkv.core.model;

import io.rocketkv.core.kernels.AttentionShape;
import io.rocketkv.core.kernels.Collective;
import io.rocketkv.core.kernels.Kernels;
import io.rocketkv.core.kernels.StepPlan;
import io.rocketkv.core.kernels.Tensor;
import io.rocketkv.core.sparse.RocketKvPlan;
import io.rocketkv.core.weights.CheckpointFormatException;
import io.rocketkv.core.weights.SafeTensors;

/**
 * A decoder bound to one backend (or one tensor-parallel rank's shard): what the engine's {@code ModelRunner}
 * needs to run a step. An architecture is one implementation plus its config ({@link #load} picks it from
 * {@link ModelConfig#architecture()}); weight names and per-architecture differences stay inside it.
 *
 * <p>A step: {@link #run} over the step's plan, the per-layer caches and a workspace from {@link #newWorkspace},
 * then {@link #readLogits} (rank 0 only under tensor parallelism).
 */
public interface Model extends AutoCloseable {

    /**
     * Loads the shard of rank {@code tp.rank()} (the whole model when {@code tp} is null) of the checkpoint's
     * architecture onto {@code kernels}.
     *
     * @throws CheckpointFormatException when a tensor is missing or has the wrong shape
     */
    static Model load(ModelConfig config, SafeTensors weights, Kernels kernels, int tokensPerBlock,
                      LoadProgress progress, TensorParallelPlan tp, Collective collective) {
        return switch (config.architecture()) {
            case LLAMA, MISTRAL, QWEN2, QWEN3, PHI3 -> LlamaModel.load(config, weights, kernels, tokensPerBlock,
                    progress, tp, collective);
        };
    }

    ModelConfig config();

    /** The per-layer scales of an fp8 KV cache (the checkpoint's k_scale / v_scale, else 1.0). */
    default KvCacheScales kvCacheScales() {
        return KvCacheScales.ones(numLayers());
    }

    /** This model's (or shard's) attention heads, KV heads, head dim and cache block size. */
    AttentionShape attentionShape();

    int numLayers();

    /** The tensor-parallel plan of this shard, or null when the model is whole on one device. */
    TensorParallelPlan tensorParallelPlan();

    /** The collective of this shard's tensor-parallel group, or null when the model is whole on one device. */
    Collective collective();

    /** A workspace for steps of at most {@code maxTokens} tokens and {@code maxRows} logit rows; the caller closes it. */
    StepWorkspace newWorkspace(int maxTokens, int maxRows);

    /** Bytes {@link #newWorkspace newWorkspace(maxTokens, maxRows)} allocates in the backend. */
    long workspaceBytes(int maxTokens, int maxRows);

    /**
     * Runs one step, leaving the logits of the step's logit rows in {@code ws} ({@link #readLogits}); with RocketKV
     * ({@code rocket} not null) a prefill runs stage 1 and builds the KT pages, a decode step attends over the
     * pages stage 2 selects. Every op takes its sizes from {@code step} and its memory from {@code ws} and the
     * caches, so a backend can record the step ({@link Kernels#record}).
     *
     * @param kvCaches one paged cache per layer, [numBlocks, 2, Hkv, tokensPerBlock, D]
     * @param ktCaches one KT cache per layer, [numKtPages, 2, Hkv, D]; null for dense attention
     * @throws IllegalArgumentException when the step does not fit {@code ws} or the caches do not match the model
     */
    default void run(StepPlan step, Tensor[] kvCaches, Tensor[] ktCaches, RocketKvPlan rocket, StepWorkspace ws) {
        run(step, kvCaches, ktCaches, rocket, null, ws);
    }

    /**
     * As {@link #run(StepPlan, Tensor[], Tensor[], RocketKvPlan, StepWorkspace)}, for a step that may hold a chunk of
     * a chunked prefill under RocketKV: {@code windowStash} holds, per layer, the observation-window queries of the
     * sequence being prefilled in chunks ([window_size, Hq·D] F32, kept by the caller from chunk to chunk; see
     * {@link Kernels#rocketStashWindow}); null when no step holds a RocketKV chunk.
     */
    void run(StepPlan step, Tensor[] kvCaches, Tensor[] ktCaches, RocketKvPlan rocket, Tensor[] windowStash,
             StepWorkspace ws);

    /** The first {@code rows} rows of the logits the last {@link #run} left in {@code ws}, row-major [rows, vocab]. */
    float[] readLogits(StepWorkspace ws, int rows);

    /**
     * {@link Kernels#greedyRows} over the first {@code rows} rows of the logits the last {@link #run} left in
     * {@code ws} (rank 0 under tensor parallelism), on a backend that {@link Kernels#hasGreedyRows has it}.
     */
    void greedyRows(StepWorkspace ws, int rows, int topK, int[] ids, float[] logprobs, int[] topIds,
                    float[] topLogprobs);

    /**
     * The logits of token rows {@code rows} of the last {@link #run}'s final hidden states in {@code ws} (final norm
     * and lm_head over those rows; the step's own logits in {@code ws} are overwritten), row-major
     * [rows.length, vocab]; at most {@link StepWorkspace#maxRows()} rows, each below the step's token count. For
     * prompt log-probabilities; rank 0 only under tensor parallelism.
     */
    float[] logitsOfRows(StepWorkspace ws, int[] rows);

    @Override
    void close();
}
